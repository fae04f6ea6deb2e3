"""The Markdown section of a results dict (``results.json``), and pasting it into the README."""

from __future__ import annotations

from typing import Any

from .settings import GOALS, README, README_END, README_START, log


def _fmt_int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "–"


def markdown(result: dict[str, Any]) -> str:
    s, r = result["summary"], result["ratios"]
    lines = [*_intro(result), *_table(result), "", _every_run(result), *_goal_lines(r)]
    bw, st, hd = (s.get(t, {}) for t in ("botwatch", "spark-startup", "botwatch-head"))
    session = st.get("median_session_ready_s") if st.get("runs") else None
    if st.get("runs"):
        context = st.get("median_context_ready_s")
        lines.append(
            f"- spark-startup (the same command, session only, no work): "
            f"{st['median_s']:.1f} s as a whole process; "
            + (f"SparkContext ready after ~{context:.0f} s, " if context else "")
            + f"SparkSession after {session:.1f} s"
        )
    for tool, entry in (("botwatch", bw), ("botwatch-head", hd)):
        text = _work_split(tool, entry, session)
        if text is not None:
            lines.append(text)
    lines += _baseline_lines(r, bw)
    lines += _notes(result)
    return "\n".join(lines) + "\n"


def _intro(result: dict[str, Any]) -> list[str]:
    m = result["machine"]
    return [
        f"Measured {result['date']} on `{m['host']}` ({m['cpu_model']}, {m['nproc']} cores, "
        f"{m['mem_gb']} GB RAM; load average {m['load_before']} before, {m['load_after']} "
        f"after), commit `{m['commit']}`, {result['input']['description']}.",
        "",
        f"Command: `{result['command']}`",
        "",
        *_spark_line(m.get("spark") or {}),
    ]


def _spark_line(spark: dict[str, Any]) -> list[str]:
    if spark.get("mode") != "connect":
        return ["Spark: classic (a driver JVM per spark-submit).", ""] if spark else []
    return [
        f"Spark: connect (as `make airflow` runs it): one Spark Connect server on `local[*]` "
        f"with {spark.get('driver_memory')} of driver memory, up in {spark.get('start_s')} s "
        "before the first run and shared by every run; its RSS and CPU time are counted in "
        "every Spark run's figures, the wall time is the client's, whole process.",
        "",
    ]


def _table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| tool | runs | median s | min s | peak RSS MB (max) | CPU s (median) "
        "| lines read | parsed | rejected |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tool in result["tools"]:
        e = result["summary"].get(tool, {})
        if not e.get("runs"):
            lines.append(f"| {tool} | 0 (failed {e.get('failed', 0)}) | | | | | | | |")
            continue
        failed = f" (+{e['failed']} failed)" if e["failed"] else ""
        lines.append(
            f"| {tool} | {e['runs']}{failed} | {e['median_s']:.1f} | {e['min_s']:.1f} "
            f"| {e['peak_rss_mb']:,.0f} | {e['median_cpu_s']:.0f} | {_fmt_int(e['read'])} "
            f"| {_fmt_int(e['parsed'])} | {_fmt_int(e['rejected'])} |"
        )
    return lines


def _every_run(result: dict[str, Any]) -> str:
    per_run = {
        tool: " / ".join(
            f"{run['wall_s']:.1f}"
            for run in result["runs"]
            if run["tool"] == tool and run["returncode"] == 0 and "error" not in run["counts"]
        )
        for tool in result["tools"]
    }
    return "- every run, in round order (s): " + "; ".join(
        f"{tool} {times}" for tool, times in per_run.items() if times
    )


def _goal_lines(r: dict[str, Any]) -> list[str]:
    lines = []
    for tool, goal in GOALS.items():
        if tool in r:
            x = r[tool]
            verdict = "met" if x["met"] else "**NOT met**"
            lines.append(
                f"- {tool} / botwatch: **{x['median_ratio']:.2f}x** on medians "
                f"({x['min_ratio']:.2f}x on minimums); goal >= {goal}x: {verdict}"
            )
    return lines


def _work_split(tool: str, entry: dict[str, Any], session: float | None) -> str | None:
    """A botwatch run's time as start-up + ingest work + shutdown; None without its timings."""
    logged = entry.get("median_record_logged_s") if entry.get("runs") else None
    if logged is None:
        return None
    text = f"- {tool}"
    if tool == "botwatch-head":
        text += f" (the same ingest on the first {_fmt_int(entry.get('read'))} lines)"
    text += f": {entry['median_s']:.1f} s = "
    ready = entry.get("median_context_ready_s")
    if session is not None:
        text += f"start-up ~{session:.1f} s (spark-startup's session) + ingest work "
        text += f"{logged - session:.1f} s"
    elif ready is not None:
        text += f"start-up ~{ready:.0f} s (SparkContext) + ingest work {logged - ready:.1f} s"
    else:
        text += f"start-up and ingest work {logged:.1f} s"
    text += f" + shutdown after the run record {entry['median_s'] - logged:.1f} s"
    if tool == "botwatch-head":
        text += " (the job's cost with almost no data)"
    return text


def _baseline_lines(r: dict[str, Any], bw: dict[str, Any]) -> list[str]:
    lines = []
    if "botwatch_minus_startup_s" in r:
        extras = [
            f"{tool} {r[f'{tool}_vs_job_only']:.2f}x"
            for tool in GOALS
            if f"{tool}_vs_job_only" in r
        ]
        lines.append(
            f"- botwatch minus the spark-startup baseline: {r['botwatch_minus_startup_s']:.1f} s"
            + (f"; against that: {', '.join(extras)}" if extras else "")
        )
    if bw.get("median_cache_spill_warnings"):
        lines.append(
            f"- botwatch logged {bw['median_cache_spill_warnings']:.0f} Spark `Not enough space "
            "to cache` warnings per run (median): the cached lines do not fit the driver's memory"
        )
    return lines


def _notes(result: dict[str, Any]) -> list[str]:
    """The profile of the last profiled run, a code-changed warning, reasons and failures."""
    lines = []
    profiled = [
        run
        for run in result["runs"]
        if run["tool"] == "botwatch" and (run["counts"].get("spark_profile") or {}).get("sql")
    ]
    if profiled:
        run = profiled[-1]
        execs = run["counts"]["spark_profile"]["sql"]
        lines.append(
            f"- botwatch's Spark SQL executions (`--profile` event log, round {run['round']} of "
            f"{run['wall_s']:.0f} s): "
            + "; ".join(f"`{e['what']}` {e['s']:.1f} s" for e in execs)
            + f"; outside them {run['wall_s'] - sum(e['s'] for e in execs):.0f} s"
        )
    code = result.get("code") or {}
    if code and code["before"].split(":")[-1] != code["after"].split(":")[-1]:
        lines.append(
            "- **WARNING**: spark_jobs/ or the bench config changed while this ran "
            f"({code.get('before')} -> {code.get('after')}): the botwatch runs may mix versions"
        )
    reasons = [run["counts"]["reasons"] for run in result["runs"] if run["counts"].get("reasons")]
    if reasons:
        lines.append(f"- botwatch quarantine reasons (last run): {reasons[-1]}")
    failed = [run for run in result["runs"] if run["returncode"] or "error" in run["counts"]]
    for run in failed:
        lines.append(f"- FAILED {run['tool']} round {run['round']}: {run['counts'].get('error')}")
    return lines


def update_readme(section: str) -> None:
    text = README.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        log(f"README: markers {README_START} / {README_END} not found, not updated")
        return
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    README.write_text(f"{head}{README_START}\n{section}{README_END}{tail}", encoding="utf-8")
    log(f"README: results section of {README} replaced")
