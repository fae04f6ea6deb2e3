"""One measured run of one tool (its command, its process tree, its counts), and the rounds."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any

from .commands import (
    Context,
    cmd_botwatch,
    cmd_botwatch_head,
    cmd_duckdb,
    cmd_goaccess,
    cmd_spark_startup,
)
from .counts import (
    counts_botwatch,
    counts_botwatch_head,
    counts_duckdb,
    counts_goaccess,
    counts_spark_startup,
)
from .process import measure
from .settings import log

TOOLS = {
    "botwatch": (cmd_botwatch, counts_botwatch),
    "goaccess": (cmd_goaccess, counts_goaccess),
    "duckdb": (cmd_duckdb, counts_duckdb),
    "spark-startup": (cmd_spark_startup, counts_spark_startup),
    "botwatch-head": (cmd_botwatch_head, counts_botwatch_head),
}


@dataclass
class Run:
    tool: str
    round: int
    wall_s: float
    peak_rss_mb: float
    peak_procs: int
    cpu_s: float
    returncode: int
    counts: dict[str, Any]
    log: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and "error" not in self.counts


def run_one(ctx: Context, tool: str, round_no: int) -> Run:
    build, read_counts = TOOLS[tool]
    argv, env, out = build(ctx)
    os.sync()  # the previous run's written output must not be flushed during this one
    log_path = ctx.workdir / "logs" / f"{tool}-{round_no}.log"
    servers = ctx.servers if tool.startswith(("botwatch", "spark")) else []
    m = measure(argv, env, log_path, ctx.args.sample_ms / 1000, ctx.args.timeout, servers)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    counts = read_counts(ctx, out, text, m)
    if m.timed_out:
        counts["error"] = f"timed out after {ctx.args.timeout} s"
    elif m.returncode:
        counts["error"] = f"exit code {m.returncode}; see {log_path}"
    if not ctx.args.keep_outputs:
        shutil.rmtree(out, ignore_errors=True)
    return Run(
        tool=tool,
        round=round_no,
        wall_s=round(m.wall_s, 3),
        peak_rss_mb=round(m.peak_rss_mb, 1),
        peak_procs=m.peak_procs,
        cpu_s=round(m.cpu_s, 2),
        returncode=m.returncode,
        counts=counts,
        log=str(log_path),
    )


def run_rounds(ctx: Context) -> list[Run]:
    """``--runs`` rounds of every tool in ``--tools`` order (A B C A B C ...), logged as they end."""
    args = ctx.args
    runs: list[Run] = []
    for round_no in range(1, args.runs + 1):
        for tool in args.tool_list:
            run = run_one(ctx, tool, round_no)
            runs.append(run)
            c = run.counts
            status = "ok" if run.ok else f"FAILED ({c.get('error')})"
            log(
                f"round {round_no}/{args.runs} {tool:13} {run.wall_s:8.1f} s  "
                f"peak {run.peak_rss_mb:7.0f} MB  cpu {run.cpu_s:7.1f} s  "
                f"read {c.get('read')} parsed {c.get('parsed')} rejected {c.get('rejected')}  "
                f"{status}"
            )
    return runs
