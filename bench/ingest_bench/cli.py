"""The command line of ``bench/parse_bench.py`` and the whole bench run behind it."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import glob
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from spark_jobs.session import REMOTE_ENV

from .commands import Context, spark_env, spark_submit_argv
from .inputs import prepare_head, prepare_input
from .machine import code_state, java_home, load_average, machine_info, versions
from .render import markdown, update_readme
from .runs import TOOLS, Run, run_rounds
from .settings import (
    ALL_TOOLS,
    CONFIG,
    DEFAULT_DATA,
    DEFAULT_WORKDIR,
    EXPECTED_LINES,
    HEAD_LINES,
    README,
    REPO,
    VENV_BIN,
    log,
)
from .summary import ratios, summarize


def parse_args(argv: list[str] | None, description: str) -> argparse.Namespace:
    """The options; ``description`` is the first line of the command's docstring."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _add_run_options(parser)
    _add_output_options(parser)
    args = parser.parse_args(argv)
    args.tool_list = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in args.tool_list if t not in TOOLS]
    if unknown:
        parser.error(f"unknown tool(s) {unknown}; known: {', '.join(ALL_TOOLS)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=3, help="rounds of every tool (default 3)")
    parser.add_argument(
        "--tools",
        default=",".join(ALL_TOOLS),
        help=f"comma-separated, run in this order each round (default {','.join(ALL_TOOLS)})",
    )
    parser.add_argument("--workdir", default=DEFAULT_WORKDIR, help="input, outputs, logs, results")
    parser.add_argument("--data", default=DEFAULT_DATA, help="glob of the monthly logs")
    parser.add_argument(
        "--expected-lines",
        type=int,
        default=EXPECTED_LINES,
        help=f"lines the input must have (default {EXPECTED_LINES:,}; 0: do not check)",
    )
    parser.add_argument("--gz", action="store_true", help="tools read the .gz files directly")
    parser.add_argument(
        "--spark-conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra conf for the botwatch and spark-startup submits (experiments only)",
    )
    parser.add_argument(
        "--head-lines",
        type=int,
        default=HEAD_LINES,
        help=f"lines of the botwatch-head run (default {HEAD_LINES:,})",
    )
    parser.add_argument("--duckdb-threads", type=int, default=None, help="default: all cores")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="botwatch runs write a Spark event log; the section lists their Spark jobs' times",
    )
    parser.add_argument(
        "--spark-mode",
        choices=("connect", "classic"),
        default="connect",
        help="connect (default, as make airflow runs): one Spark Connect server for the whole "
        "bench, started first, its RSS and CPU counted in every Spark run; classic: a driver "
        "JVM per spark-submit",
    )
    parser.add_argument(
        "--server-memory",
        default="1g",
        help="the Connect server's driver memory (default 1g, the make airflow default)",
    )
    parser.add_argument("--sample-ms", type=float, default=50, help="RSS sampling period")
    parser.add_argument("--timeout", type=float, default=3600, help="per run, seconds")


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep-outputs", action="store_true", help="keep each run's output")
    parser.add_argument("--json", default=None, help="result JSON (default WORKDIR/results.json)")
    parser.add_argument(
        "--render",
        metavar="RESULTS_JSON",
        default=None,
        help="run nothing: print (and with --update-readme paste) the section of a results.json",
    )
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help=f"replace the section between the markers of {README.relative_to(REPO)}",
    )


def preflight(args: argparse.Namespace) -> None:
    problems = []
    if "goaccess" in args.tool_list and not shutil.which("goaccess"):
        problems.append("goaccess is not installed: apt-get install -y goaccess")
    if "duckdb" in args.tool_list:
        try:
            import duckdb  # noqa: F401
        except ImportError:
            problems.append(
                "duckdb is missing: .tools/uvenv/bin/uv sync --frozen --compile-bytecode "
                "--group bench"
            )
    if {"botwatch", "spark-startup"} & set(args.tool_list):
        if not java_home() and not shutil.which("java"):
            problems.append("no JDK 17+: apt-get install openjdk-17-jdk-headless")
        if not (VENV_BIN / "spark-submit").exists():
            problems.append(f"{VENV_BIN / 'spark-submit'} is missing: make install")
    if problems:
        sys.exit("parse_bench: " + "; ".join(problems))


def render_only(args: argparse.Namespace) -> int:
    """``--render``: the section of an existing results.json, printed (and pasted)."""
    section = markdown(json.loads(Path(args.render).read_text()))
    print(section)
    if args.update_readme:
        update_readme(section)
    return 0


def load_submit(args: argparse.Namespace) -> tuple[dict[str, str], str, Any]:
    """(Spark conf, use case id, the DAG's ingest ``StageSubmit``) when a Spark tool runs."""
    spark_conf: dict[str, str] = {}
    usecase_id = "aircare_bench"
    submit = None
    if {"botwatch", "spark-startup"} & set(args.tool_list):
        sys.path.insert(0, str(REPO))
        from spark_jobs.config.loading import load_usecase
        from spark_jobs.stage.submit import StageSubmit

        usecase = load_usecase(CONFIG)  # merged with bench/_defaults.yaml -> usecase_configs/
        spark_conf = dict(usecase.spark)
        usecase_id = usecase.id
        for item in args.spark_conf:
            key, sep, value = item.partition("=")
            if not sep:
                sys.exit(f"parse_bench: --spark-conf {item!r} is not KEY=VALUE")
            spark_conf[key] = value
        submit = replace(StageSubmit.for_stage("ingest", CONFIG, usecase), conf=spark_conf)
    return spark_conf, usecase_id, submit


def build_context(args: argparse.Namespace) -> tuple[Context, dict[str, Any]]:
    """(everything a run of a tool needs, the results' ``input``): input prepared, submit loaded."""
    workdir = Path(args.workdir).resolve()
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    args.data = os.path.abspath(args.data)  # the tools run in the repository root
    files = sorted(glob.glob(args.data))
    if not files:
        sys.exit(f"parse_bench: no file matches {args.data}")
    plain, log_input, input_info = prepare_input(args, files, workdir)
    head = workdir / "head.log"
    prepare_head(args, plain, files, head, input_info)
    spark_conf, usecase_id, submit = load_submit(args)
    ctx = Context(
        args=args,
        workdir=workdir,
        log_input=log_input,
        gz_files=files,
        plain=plain,
        expected=args.expected_lines,
        head=head,
        spark_conf=spark_conf,
        usecase_id=usecase_id,
        submit=submit,
    )
    ctx.env = spark_env(ctx)
    return ctx, input_info


@contextlib.contextmanager
def connect_server(ctx: Context) -> Iterator[dict[str, Any]]:
    """``--spark-mode connect``: one server for the whole bench, on a free loopback port, as
    ``make airflow`` starts it (``local[*]``), stopped at the end; its start is timed apart."""
    info: dict[str, Any] = {"mode": ctx.args.spark_mode}
    if ctx.args.spark_mode != "connect":
        ctx.env[REMOTE_ENV] = ""
        yield info
        return
    from botwatch_airflow.services import processes, spark_connect
    from botwatch_airflow.services.spark_cluster import default_spark_home

    settings = spark_connect.ConnectSettings(
        port=processes.free_port(),
        master="local[*]",
        driver_memory=ctx.args.server_memory,
        ui_port=0,
        run_dir=ctx.workdir / "spark-connect",
        spark_home=default_spark_home(),
    )
    began = time.perf_counter()
    with spark_connect.running(settings) as url:
        info.update(url=url, driver_memory=settings.driver_memory,
                    start_s=round(time.perf_counter() - began, 1))  # fmt: skip
        ctx.env[REMOTE_ENV] = url
        ctx.servers = [settings.service.pid()]
        log(f"Spark Connect server {url} up in {info['start_s']} s (pid {ctx.servers[0]})")
        yield info


def command_line(argv: list[str] | None) -> str:
    """How this bench was run, for the results' header."""
    python = Path(sys.executable)
    if python.is_relative_to(REPO):
        python = python.relative_to(REPO)
    return f"{python} bench/parse_bench.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )


def run_bench(args: argparse.Namespace, argv: list[str] | None) -> int:
    """Every round of every tool, then the results printed and written; 1 if a run failed."""
    preflight(args)
    ctx, input_info = build_context(args)
    machine = machine_info()
    machine["load_before"] = load_average()
    code_before = code_state()
    command = command_line(argv)
    log(f"tools {args.tool_list}, {args.runs} round(s), input {ctx.log_input}")
    if ctx.spark_conf:
        log("spark-submit: " + shlex.join(spark_submit_argv(ctx, Path("LAKE"))))
    started = time.time()
    with connect_server(ctx) as server_info:
        runs = run_rounds(ctx)
    machine["load_after"] = load_average()
    machine["spark"] = server_info
    code_after = code_state()
    if code_after.split(":")[-1] != code_before.split(":")[-1]:
        log(f"WARNING: the code changed during the run ({code_before} -> {code_after})")
    head = {
        "command": command,
        "started": started,
        "input": input_info,
        "machine": machine,
        "code": {"before": code_before, "after": code_after},
    }
    write_results(ctx, build_result(ctx, runs, head))
    return 0 if all(r.ok for r in runs) else 1


def build_result(ctx: Context, runs: list[Run], head: dict[str, Any]) -> dict[str, Any]:
    """The results.json dict; ``head`` has the command, start time, input, machine and code."""
    args, spark_conf = ctx.args, ctx.spark_conf
    summary = summarize(runs, args.tool_list)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": head["command"].strip(),
        "elapsed_s": round(time.time() - head["started"], 1),
        "tools": args.tool_list,
        "input": head["input"],
        "machine": head["machine"],
        "versions": versions(args.tool_list),
        "code": head["code"],
        "profile": bool(args.profile),
        "spark_conf": spark_conf,
        "spark_submit": shlex.join(spark_submit_argv(ctx, ctx.workdir / "out/botwatch/lake"))
        if spark_conf
        else None,
        "summary": summary,
        "ratios": ratios(summary),
        "runs": [asdict(r) for r in runs],
    }


def write_results(ctx: Context, result: dict[str, Any]) -> None:
    """The section printed and in WORKDIR/results.md (and the README), the JSON beside it."""
    args, workdir = ctx.args, ctx.workdir
    section = markdown(result)
    json_path = Path(args.json) if args.json else workdir / "results.json"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    (workdir / "results.md").write_text(section)
    print(section)
    log(f"results: {json_path} and {workdir / 'results.md'}; logs in {workdir / 'logs'}")
    if args.update_readme:
        update_readme(section)
