"""What each tool says it read, parsed and rejected, and when the Spark ones were ready."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from .commands import Context
from .process import Measured
from .settings import REPO

#: The stage logs its run record last, with milliseconds: the job's own work ends there.
_RECORD_LOGGED = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO botwatch: \S+ ingest: ", re.M
)
#: Spark logs at INFO until get_spark lowers the level, so the SparkContext start shows (seconds).
_CONTEXT_READY = re.compile(
    r"^(\d\d/\d\d/\d\d \d\d:\d\d:\d\d) INFO BlockManager: Initialized BlockManager", re.M
)


def expected_lines(ctx: Context, tool: str) -> int:
    return ctx.args.head_lines if tool == "botwatch-head" else ctx.expected


def _since_launch(pattern: re.Pattern[str], fmt: str, text: str, m: Measured) -> float | None:
    found = pattern.findall(text)
    if not found:
        return None
    return round(dt.datetime.strptime(found[-1], fmt).timestamp() - m.launched_at, 3)


def counts_botwatch(ctx: Context, out: Path, log_text: str, m: Measured) -> dict[str, Any]:
    return _ingest_counts(ctx, "botwatch", out, log_text, m)


def counts_botwatch_head(ctx: Context, out: Path, log_text: str, m: Measured) -> dict[str, Any]:
    return _ingest_counts(ctx, "botwatch-head", out, log_text, m)


def _ingest_counts(
    ctx: Context, tool: str, out: Path, log_text: str, m: Measured
) -> dict[str, Any]:
    records = sorted((out / "lake").glob(f"runs/use_case={ctx.usecase_id}/interval=*/ingest.json"))
    if not records:
        return {"error": "no ingest.json run record"}
    record = json.loads(records[-1].read_text())
    counts: dict[str, Any] = {
        "read": record.get("read"),
        "parsed": (record.get("parsed") or 0) + (record.get("out_of_window") or 0),
        "rejected": record.get("quarantined"),
        "out_of_window": record.get("out_of_window"),
    }
    reasons: dict[str, int] = {}
    for item in record.get("files", []):
        for reason, n in (item.get("reasons") or {}).items():
            reasons[reason] = reasons.get(reason, 0) + n
    if reasons:
        counts["reasons"] = reasons
    expected = expected_lines(ctx, tool)
    if expected and record.get("read") != expected:
        counts["error"] = f"run record read {record.get('read')} != {expected} lines"
    counts["context_ready_s"] = _since_launch(_CONTEXT_READY, "%y/%m/%d %H:%M:%S", log_text, m)
    counts["record_logged_s"] = _since_launch(_RECORD_LOGGED, "%Y-%m-%d %H:%M:%S,%f", log_text, m)
    counts["cache_spill_warnings"] = log_text.count("Not enough space to cache")
    if ctx.args.profile:
        counts["spark_profile"] = spark_profile_of(out / "eventlog")
    return counts


def spark_profile_of(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The SQL executions (what the stage's code asked for) and Spark jobs of an event log."""
    jobs: dict[int, dict[str, Any]] = {}
    execs: dict[int, dict[str, Any]] = {}
    # Spark 4 writes a rolling log: eventlog_v2_<app>/events_<n>_<app> files, in n order.
    files = [p for p in folder.rglob("events_*") if p.is_file()]
    for path in sorted(files, key=lambda p: [int(n) for n in re.findall(r"_(\d+)_", p.name)]):
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind = event.get("Event", "").rsplit(".", 1)[-1]
                if kind == "SparkListenerSQLExecutionStart":
                    what = event.get("description", "?").replace(str(REPO) + "/", "")
                    plan = event.get("physicalPlanDescription") or ""
                    # A write names its dataset: .../<lake>/<dataset>/use_case=<id>/...
                    target = re.search(r"/([^/\s]+)/use_case=", plan)
                    if "InsertIntoHadoopFsRelationCommand" in plan and target:
                        what = f"write {target.group(1)}"
                    execs[event["executionId"]] = {
                        "id": event["executionId"],
                        "what": what,
                        "start": event["time"],
                    }
                elif kind == "SparkListenerSQLExecutionEnd" and event["executionId"] in execs:
                    item = execs[event["executionId"]]
                    item["s"] = round((event["time"] - item.pop("start")) / 1000, 2)
                elif kind == "SparkListenerJobStart":
                    props = event.get("Properties") or {}
                    stages = event.get("Stage Infos") or [{}]
                    jobs[event["Job ID"]] = {
                        "job": event["Job ID"],
                        "sql": props.get("spark.sql.execution.id"),
                        "what": props.get("callSite.short") or stages[-1].get("Stage Name", "?"),
                        "stages": len(stages),
                        "start": event["Submission Time"],
                    }
                elif kind == "SparkListenerJobEnd" and event["Job ID"] in jobs:
                    job = jobs[event["Job ID"]]
                    job["s"] = round((event["Completion Time"] - job.pop("start")) / 1000, 2)
    return {
        "sql": [execs[k] for k in sorted(execs) if "s" in execs[k]],
        "jobs": [jobs[k] for k in sorted(jobs) if "s" in jobs[k]],
    }


def counts_spark_startup(ctx: Context, out: Path, log_text: str, m: Measured) -> dict[str, Any]:
    found = re.findall(r"^BENCH_STARTUP (\{.*\})$", log_text, re.M)
    if not found:
        return {"error": "no BENCH_STARTUP line"}
    times = json.loads(found[-1])
    return {
        "context_ready_s": _since_launch(_CONTEXT_READY, "%y/%m/%d %H:%M:%S", log_text, m),
        "python_start_s": round(times["python_start"] - m.launched_at, 3),
        "session_ready_s": round(times["session_ready"] - m.launched_at, 3),
    }


def counts_goaccess(ctx: Context, out: Path, log_text: str, m: Measured) -> dict[str, Any]:
    try:
        general = json.loads((out / "out.json").read_text())["general"]
    except (OSError, ValueError, KeyError) as exc:
        return {"error": f"no GoAccess out.json: {exc}"}
    counts = {
        "read": general.get("total_requests"),
        "parsed": general.get("valid_requests"),
        "rejected": general.get("failed_requests"),
    }
    if ctx.expected and counts["read"] != ctx.expected:
        counts["note"] = f"GoAccess total_requests {counts['read']} != {ctx.expected}"
    return counts


def counts_duckdb(ctx: Context, out: Path, log_text: str, m: Measured) -> dict[str, Any]:
    found = [line for line in log_text.splitlines() if line.startswith('{"read"')]
    if not found:
        return {"error": "no counts line"}
    result = json.loads(found[-1])
    if ctx.expected and result.get("read") != ctx.expected:
        result["note"] = f"DuckDB read {result.get('read')} lines != {ctx.expected}"
    return result
