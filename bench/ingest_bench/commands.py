"""The command of each tool (botwatch, botwatch-head, spark-startup, goaccess, duckdb).

The Spark ones are the DAG's own submit of the ingest stage (``StageSubmit.to_argv``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .machine import java_home
from .settings import BENCH, END, REPO, SHIM_DIR, START, VENV_BIN


@dataclass
class Context:
    args: argparse.Namespace
    workdir: Path
    log_input: str  # what botwatch and DuckDB read: the plain file, or the gz glob
    gz_files: list[str]
    plain: Path | None
    expected: int
    head: Path  # the first --head-lines lines of the input, for botwatch-head
    spark_conf: dict[str, str]
    usecase_id: str
    env: dict[str, str] = field(default_factory=dict)
    #: The DAG's submit of the ingest stage (``spark_jobs.stage.submit.StageSubmit``), with the
    #: bench's ``--spark-conf``; None when no Spark tool runs.
    submit: Any = None
    #: ``--spark-mode connect``: the Spark Connect server's PID (measured with every Spark run).
    servers: list[int] = field(default_factory=list)


def spark_env(ctx: Context) -> dict[str, str]:
    """The Airflow worker's env (Makefile) plus the job env of the DAG's submit spec."""
    env = dict(os.environ)
    if ctx.submit is not None:
        env.update(ctx.submit.env_vars)
    # as make airflow has it: botwatch's spark-submit (a Connect stage runs as a plain Python
    # client), then the venv's
    env["PATH"] = os.pathsep.join([str(SHIM_DIR), str(VENV_BIN), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), str(REPO / "plugins"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env["PYSPARK_PYTHON"] = str(VENV_BIN / "python")
    env["GX_ANALYTICS_ENABLED"] = "false"
    env["SPARK_LOCAL_IP"] = os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")
    home = java_home()
    if home:
        env["JAVA_HOME"] = home
    env["BOTWATCH_BENCH_LOG"] = ctx.log_input
    return env


def spark_submit_argv(
    ctx: Context,
    lake: Path,
    extra_conf: dict[str, str] | None = None,
    application: Path | None = None,
) -> list[str]:
    """What SparkSubmitHook builds from the DAG's operator of ingest (``StageSubmit.to_argv``).

    :param lake: the lake of this run (each run writes its own).
    :param extra_conf: Spark conf added to the use case's (``--profile``'s event log).
    :param application: another file to submit instead of ``spark_jobs/ingest.py``.
    """
    submit = replace(
        ctx.submit,
        lake=str(lake),
        conf={**ctx.submit.conf, **(extra_conf or {})},
        application=str(application) if application else ctx.submit.application,
    )
    spark_submit = str(SHIM_DIR / "spark-submit")
    return submit.to_argv(master="local[*]", start=START, end=END, spark_submit=spark_submit)


def run_dir(ctx: Context, tool: str) -> Path:
    out = ctx.workdir / "out" / tool
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return out


def profile_conf(ctx: Context, out: Path) -> dict[str, str]:
    """--profile: a Spark event log per run, to time the stage's Spark jobs one by one."""
    if not ctx.args.profile:
        return {}
    (out / "eventlog").mkdir()
    return {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": f"file://{out / 'eventlog'}",
        "spark.eventLog.compress": "false",
    }


def cmd_botwatch(ctx: Context) -> tuple[list[str], dict[str, str], Path]:
    out = run_dir(ctx, "botwatch")
    return spark_submit_argv(ctx, out / "lake", profile_conf(ctx, out)), ctx.env, out


def cmd_botwatch_head(ctx: Context) -> tuple[list[str], dict[str, str], Path]:
    """The same submit on the first lines only: the job's fixed cost beside its per-line cost."""
    out = run_dir(ctx, "botwatch-head")
    env = {**ctx.env, "BOTWATCH_BENCH_LOG": str(ctx.head)}
    return spark_submit_argv(ctx, out / "lake", profile_conf(ctx, out)), env, out


def cmd_spark_startup(ctx: Context) -> tuple[list[str], dict[str, str], Path]:
    out = run_dir(ctx, "spark-startup")
    argv = spark_submit_argv(ctx, out / "lake", application=BENCH / "spark_startup.py")
    return argv, ctx.env, out


def cmd_goaccess(ctx: Context) -> tuple[list[str], dict[str, str], Path]:
    out = run_dir(ctx, "goaccess")
    opts = [
        "--log-format=COMBINED",
        "--no-global-config",
        "--no-progress",
        "--no-parsing-spinner",
        "-o",
        str(out / "out.json"),
    ]
    if ctx.args.gz:  # Debian's 1.7 is built without zlib: .gz files would be read as garbage
        pipe = f"zcat -- {shlex.join(ctx.gz_files)} | goaccess - {shlex.join(opts)}"
        return ["/bin/sh", "-c", pipe], dict(os.environ), out
    return ["goaccess", str(ctx.plain), *opts], dict(os.environ), out


def cmd_duckdb(ctx: Context) -> tuple[list[str], dict[str, str], Path]:
    out = run_dir(ctx, "duckdb")
    argv = [sys.executable, str(BENCH / "duckdb_ingest.py"), ctx.log_input, str(out / "x.parquet")]
    if ctx.args.duckdb_threads:
        argv += ["--threads", str(ctx.args.duckdb_threads)]
    return argv, dict(os.environ), out
