"""Medians over the good runs of each tool, and the contenders' ratios to botwatch."""

from __future__ import annotations

import statistics
from typing import Any

from .runs import Run
from .settings import GOALS


def summarize(runs: list[Run], tools: list[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for tool in tools:
        mine = [r for r in runs if r.tool == tool]
        good = [r for r in mine if r.ok]
        if not good:
            summary[tool] = {"runs": 0, "failed": len(mine)}
            continue
        walls = [r.wall_s for r in good]
        last = good[-1].counts
        entry: dict[str, Any] = {
            "runs": len(good),
            "failed": len(mine) - len(good),
            "median_s": round(statistics.median(walls), 2),
            "min_s": round(min(walls), 2),
            "max_s": round(max(walls), 2),
            "peak_rss_mb": round(max(r.peak_rss_mb for r in good), 1),
            "median_cpu_s": round(statistics.median(r.cpu_s for r in good), 1),
            "read": last.get("read"),
            "parsed": last.get("parsed"),
            "rejected": last.get("rejected"),
        }
        for key in (
            "context_ready_s",
            "record_logged_s",
            "session_ready_s",
            "cache_spill_warnings",
        ):
            values = [r.counts[key] for r in good if r.counts.get(key) is not None]
            if values:
                entry[f"median_{key}"] = round(statistics.median(values), 2)
        summary[tool] = entry
    return summary


def ratios(summary: dict[str, Any]) -> dict[str, Any]:
    base = summary.get("botwatch", {})
    if not base.get("runs"):
        return {}
    out: dict[str, Any] = {}
    for tool, goal in GOALS.items():
        other = summary.get(tool, {})
        if not other.get("runs"):
            continue
        median = other["median_s"] / base["median_s"]
        out[tool] = {
            "median_ratio": round(median, 3),
            "min_ratio": round(other["min_s"] / base["min_s"], 3),
            "goal": goal,
            "met": median >= goal,
        }
    startup = summary.get("spark-startup", {})
    if startup.get("runs"):
        job = base["median_s"] - startup["median_s"]
        out["botwatch_minus_startup_s"] = round(job, 2)
        for tool in GOALS:
            other = summary.get(tool, {})
            if other.get("runs") and job > 0:
                out[f"{tool}_vs_job_only"] = round(other["median_s"] / job, 3)
    return out
