"""Ingest stage vs GoAccess vs DuckDB on all aircare months, side by side, as whole processes.

Run by hand (never in tests), from the repository root::

    .venv/bin/python bench/parse_bench.py --runs 3 --update-readme   # ~35 min today
    .venv/bin/python bench/parse_bench.py --tools botwatch,duckdb --runs 1
    .venv/bin/python bench/parse_bench.py --tools botwatch --runs 1 --profile   # Spark jobs
    .venv/bin/python bench/parse_bench.py --render /tmp/botwatch-bench/results.json

What runs (each a separate process tree, started the same way every round):

* ``botwatch``: ``spark_jobs/ingest.py`` submitted exactly as the Airflow DAG submits it
  (the ``spark_jobs.stage.submit.StageSubmit`` the DAG factory builds its operators from, as
  ``spark-submit --master local[*]`` with the use case's merged ``spark`` conf, ``--name``, the
  job's env) with ``bench/aircare_bench.yaml`` over
  one interval covering every month; the run record ``ingest.json`` must count every line read.
* ``spark-startup``: the same spark-submit of ``bench/spark_startup.py``, which only builds the
  session: the fixed cost of any stage, so the README can split JVM/Spark start from the job.
* ``botwatch-head``: the ingest submit on the first ``--head-lines`` lines: the job's own fixed
  cost (planning, Python workers, the writes) beside its per-line cost.
* ``goaccess``: ``goaccess FILE --log-format=COMBINED -o out.json`` (Debian package ``goaccess``);
  its own valid/failed counts come from ``out.json``.
* ``duckdb``: ``bench/duckdb_ingest.py`` (one ``regexp_extract`` of the combined fields per
  line, timestamp cast, per-client aggregate to Parquet).

The input is every ``--data`` file decompressed and concatenated once into ``WORKDIR`` (cached
across runs; its line count is checked). ``--gz`` makes the tools read the .gz files instead
(GoAccess 1.7 of Debian has no zlib, so it reads ``zcat ... |`` from a pipe).

Rounds alternate the tools (A B C D A B C D ...) because this machine is small and shared: only
ratios measured side by side mean anything. Each run's peak memory is the largest sum of RSS over
the whole process tree (spark-submit's JVM and its Python workers), sampled every
``--sample-ms``. The result is printed as a Markdown section (also written to
``WORKDIR/results.md`` and, with ``--update-readme``, into ``bench/README.md`` between its
markers) and as JSON (``WORKDIR/results.json``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import gzip
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
VENV_BIN = REPO / ".venv" / "bin"
CONFIG = BENCH / "aircare_bench.yaml"
README = BENCH / "README.md"
DEFAULT_DATA = "/work/shared/data/logs/aircareonline/*.log.gz"
DEFAULT_WORKDIR = "/tmp/botwatch-bench"
EXPECTED_LINES = 2_748_404
PLAIN_NAME = "aircare_all.log"
# One interval around every month of the data (2012-11 .. 2015-10), as the issue runs it.
START = "2012-01-01T00:00:00+00:00"
END = "2016-01-01T00:00:00+00:00"
ALL_TOOLS = ("botwatch", "goaccess", "duckdb", "spark-startup", "botwatch-head")
HEAD_LINES = 10_000
GOALS = {"goaccess": 4.0, "duckdb": 1.5}  # contender median / botwatch median, at least
README_START = "<!-- bench:results:start -->"
README_END = "<!-- bench:results:end -->"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the input file ------------------------------------------------------------------------


def count_lines(path: Path) -> tuple[int, int]:
    """(``\\n`` count, number of ``\\r`` bytes) of a plain file, read in 8 MiB blocks."""
    lines = carriage = 0
    with path.open("rb") as handle:
        while block := handle.read(8 << 20):
            lines += block.count(b"\n")
            carriage += block.count(b"\r")
    return lines, carriage


def source_stamp(files: list[str]) -> list[list[Any]]:
    return [[f, os.path.getsize(f), int(os.path.getmtime(f))] for f in files]


def prepare_plain(files: list[str], workdir: Path, expected: int) -> dict[str, Any]:
    """Decompress and concatenate ``files`` once into WORKDIR; reuse it while it matches."""
    plain = workdir / PLAIN_NAME
    stamp_file = workdir / (PLAIN_NAME + ".source.json")
    stamp = source_stamp(files)
    if plain.exists() and stamp_file.exists():
        info = json.loads(stamp_file.read_text())
        if info.get("sources") == stamp and info.get("size") == plain.stat().st_size:
            log(f"input: reusing {plain} ({info['lines']:,} lines)")
            return info
    log(f"input: concatenating {len(files)} files into {plain}")
    tmp = plain.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for name in files:
            opener = gzip.open if name.endswith(".gz") else open
            last = b"\n"
            with opener(name, "rb") as src:
                while block := src.read(8 << 20):
                    out.write(block)
                    last = block[-1:]
            if last != b"\n":  # a month without a final newline must not glue two lines
                out.write(b"\n")
    tmp.replace(plain)
    lines, carriage = count_lines(plain)
    info = {
        "path": str(plain),
        "size": plain.stat().st_size,
        "lines": lines,
        "cr_bytes": carriage,
        "sources": stamp,
    }
    stamp_file.write_text(json.dumps(info))
    if expected and lines != expected:
        sys.exit(f"input: {plain} has {lines:,} lines, expected {expected:,} (--expected-lines)")
    return info


def write_head(sources: list[str], path: Path, n: int) -> int:
    """The first ``n`` lines of the sources (plain or .gz, in order) into ``path``."""
    written = 0
    with path.open("wb") as out:
        for name in sources:
            opener = gzip.open if name.endswith(".gz") else open
            with opener(name, "rb") as src:
                for line in src:
                    if written >= n:
                        return written
                    out.write(line if line.endswith(b"\n") else line + b"\n")
                    written += 1
    return written


def gz_lines(files: list[str]) -> int:
    total = 0
    for name in files:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(name, "rb") as src:
            while block := src.read(8 << 20):
                total += block.count(b"\n")
    return total


# --- measuring one process tree ------------------------------------------------------------


def _tree_rss_proc(root: int) -> tuple[int, int]:
    """(sum of VmRSS bytes, process count) of ``root`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    total = count = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status", "rb") as handle:
                for line in handle:
                    if line.startswith(b"VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        count += 1
                        break
        except OSError:
            continue
    return total, count


def _tree_rss_psutil(psutil: Any, root: Any) -> tuple[int, int]:
    total = count = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
            count += 1
        except psutil.Error:
            continue
    return total, count


@dataclass
class Measured:
    wall_s: float
    peak_rss_mb: float
    peak_procs: int
    cpu_s: float
    returncode: int
    launched_at: float  # epoch seconds, to place the job's own log timestamps
    timed_out: bool = False


def measure(
    argv: list[str], env: dict[str, str], log_path: Path, sample_s: float, timeout_s: float
) -> Measured:
    """Run argv to completion; wall time, peak tree RSS, CPU time of its waited-for children."""
    try:
        import psutil
    except ImportError:  # the venv has it (Airflow needs it); /proc works everywhere else
        psutil = None
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = [0, 0]
    done = threading.Event()
    with log_path.open("wb") as out:
        launched_at = time.time()
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a timeout kills the whole tree
        )
        root = psutil.Process(proc.pid) if psutil else None

        def sample() -> None:
            while not done.is_set():
                if psutil:
                    rss, count = _tree_rss_psutil(psutil, root)
                else:
                    rss, count = _tree_rss_proc(proc.pid)
                peak[0] = max(peak[0], rss)
                peak[1] = max(peak[1], count)
                done.wait(sample_s)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timed_out = False
        try:
            returncode = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            returncode = proc.wait()
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    return Measured(
        wall_s=wall,
        peak_rss_mb=peak[0] / 2**20,
        peak_procs=peak[1],
        cpu_s=cpu,
        returncode=returncode,
        launched_at=launched_at,
        timed_out=timed_out,
    )


# --- the tools -----------------------------------------------------------------------------


def java_home() -> str | None:
    current = os.environ.get("JAVA_HOME")
    if current and os.access(os.path.join(current, "bin", "java"), os.X_OK):
        return current
    for pattern in ("/usr/lib/jvm/java-17-openjdk-*", "/usr/lib/jvm/java-21-openjdk-*"):
        for folder in sorted(glob.glob(pattern)):
            if os.access(os.path.join(folder, "bin", "java"), os.X_OK):
                return folder
    return None


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


def spark_env(ctx: Context) -> dict[str, str]:
    """The Airflow worker's env (Makefile) plus the job env of the DAG's submit spec."""
    env = dict(os.environ)
    if ctx.submit is not None:
        env.update(ctx.submit.env_vars)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
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
    spark_submit = str(VENV_BIN / "spark-submit")
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
    m = measure(argv, env, log_path, ctx.args.sample_ms / 1000, ctx.args.timeout)
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


# --- summary -------------------------------------------------------------------------------


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


def _fmt_int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "–"


def markdown(result: dict[str, Any]) -> str:
    s, r, m = result["summary"], result["ratios"], result["machine"]
    lines = [
        f"Measured {result['date']} on `{m['host']}` ({m['cpu_model']}, {m['nproc']} cores, "
        f"{m['mem_gb']} GB RAM; load average {m['load_before']} before, {m['load_after']} "
        f"after), commit `{m['commit']}`, {result['input']['description']}.",
        "",
        f"Command: `{result['command']}`",
        "",
        "| tool | runs | median s | min s | peak RSS MB (max) | CPU s (median) "
        "| lines read | parsed | rejected |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tool in result["tools"]:
        e = s.get(tool, {})
        if not e.get("runs"):
            lines.append(f"| {tool} | 0 (failed {e.get('failed', 0)}) | | | | | | | |")
            continue
        failed = f" (+{e['failed']} failed)" if e["failed"] else ""
        lines.append(
            f"| {tool} | {e['runs']}{failed} | {e['median_s']:.1f} | {e['min_s']:.1f} "
            f"| {e['peak_rss_mb']:,.0f} | {e['median_cpu_s']:.0f} | {_fmt_int(e['read'])} "
            f"| {_fmt_int(e['parsed'])} | {_fmt_int(e['rejected'])} |"
        )
    lines.append("")
    per_run = {
        tool: " / ".join(
            f"{run['wall_s']:.1f}"
            for run in result["runs"]
            if run["tool"] == tool and run["returncode"] == 0 and "error" not in run["counts"]
        )
        for tool in result["tools"]
    }
    lines.append(
        "- every run, in round order (s): "
        + "; ".join(f"{tool} {times}" for tool, times in per_run.items() if times)
    )
    for tool, goal in GOALS.items():
        if tool in r:
            x = r[tool]
            verdict = "met" if x["met"] else "**NOT met**"
            lines.append(
                f"- {tool} / botwatch: **{x['median_ratio']:.2f}x** on medians "
                f"({x['min_ratio']:.2f}x on minimums); goal >= {goal}x: {verdict}"
            )
    bw, st, hd = (s.get(t, {}) for t in ("botwatch", "spark-startup", "botwatch-head"))
    session = st.get("median_session_ready_s") if st.get("runs") else None
    if st.get("runs"):
        context = st.get("median_context_ready_s")
        lines.append(
            f"- spark-startup (the same spark-submit, session only, no work): "
            f"{st['median_s']:.1f} s as a whole process; "
            + (f"SparkContext ready after ~{context:.0f} s, " if context else "")
            + f"SparkSession after {session:.1f} s"
        )
    for tool, entry in (("botwatch", bw), ("botwatch-head", hd)):
        logged = entry.get("median_record_logged_s") if entry.get("runs") else None
        if logged is None:
            continue
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
        lines.append(text)
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
    return "\n".join(lines) + "\n"


# --- machine and versions ------------------------------------------------------------------


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "unavailable"


def machine_info() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text()
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "spark_jobs"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    home = java_home()
    return {
        "host": platform.node(),
        "nproc": os.cpu_count(),
        "mem_gb": round(mem_kb / 2**20, 1),
        "cpu_model": cpu_model,
        "kernel": platform.release(),
        "commit": commit + (" + uncommitted spark_jobs/ changes" if dirty else ""),
        "java": _first_line([f"{home}/bin/java" if home else "java", "-version"]),
        "goaccess": _first_line(["goaccess", "--version"]),
        "python": platform.python_version(),
    }


def versions(tools: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    if "duckdb" in tools:
        try:
            import duckdb

            found["duckdb"] = duckdb.__version__
        except ImportError:
            found["duckdb"] = "missing"
    try:
        import pyspark

        found["pyspark"] = pyspark.__version__
    except ImportError:
        found["pyspark"] = "missing"
    return found


def code_state() -> str:
    """Commit and a digest of what the botwatch runs execute, to catch edits during a run."""
    import hashlib

    digest = hashlib.sha256()
    paths = sorted((REPO / "spark_jobs").rglob("*.py"))
    paths += [CONFIG, REPO / "usecase_configs" / "_defaults.yaml", *sorted(REPO.glob("*.toml"))]
    for path in paths:
        if path.is_file():
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    head = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    return f"{head}:{digest.hexdigest()[:12]}"


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
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
    parser.add_argument("--sample-ms", type=float, default=50, help="RSS sampling period")
    parser.add_argument("--timeout", type=float, default=3600, help="per run, seconds")
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
    args = parser.parse_args(argv)
    args.tool_list = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in args.tool_list if t not in TOOLS]
    if unknown:
        parser.error(f"unknown tool(s) {unknown}; known: {', '.join(ALL_TOOLS)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


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


def update_readme(section: str) -> None:
    text = README.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        log(f"README: markers {README_START} / {README_END} not found, not updated")
        return
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    README.write_text(f"{head}{README_START}\n{section}{README_END}{tail}", encoding="utf-8")
    log(f"README: results section of {README} replaced")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        section = markdown(json.loads(Path(args.render).read_text()))
        print(section)
        if args.update_readme:
            update_readme(section)
        return 0
    preflight(args)
    workdir = Path(args.workdir).resolve()
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    args.data = os.path.abspath(args.data)  # the tools run in the repository root
    files = sorted(glob.glob(args.data))
    if not files:
        sys.exit(f"parse_bench: no file matches {args.data}")

    if args.gz:
        plain = None
        log("input: counting the lines of the .gz files")
        lines = gz_lines(files)
        if args.expected_lines and lines != args.expected_lines:
            sys.exit(f"input: {args.data} has {lines:,} lines, expected {args.expected_lines:,}")
        log_input = args.data
        size = sum(os.path.getsize(f) for f in files)
        input_info = {
            "mode": "gz",
            "glob": args.data,
            "files": len(files),
            "lines": lines,
            "bytes": size,
            "description": f"{len(files)} .gz files read directly ({lines:,} lines, "
            f"{size / 1e6:.0f} MB compressed; GoAccess through `zcat |`)",
        }
    else:
        info = prepare_plain(files, workdir, args.expected_lines)
        plain = Path(info["path"])
        log_input = str(plain)
        input_info = {
            "mode": "plain",
            "path": str(plain),
            "files": len(files),
            "lines": info["lines"],
            "bytes": info["size"],
            "cr_bytes": info.get("cr_bytes"),
            "description": f"{len(files)} months concatenated into one plain file "
            f"({info['lines']:,} lines, {info['size'] / 1e6:.0f} MB)",
        }
        with plain.open("rb") as handle:  # into the page cache before the first timed run
            while handle.read(8 << 20):
                pass

    head = workdir / "head.log"
    if "botwatch-head" in args.tool_list:
        sources = [str(plain)] if plain else files
        args.head_lines = write_head(sources, head, args.head_lines)
        input_info["head_lines"] = args.head_lines

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
    machine = machine_info()
    machine["load_before"] = load_average()
    code_before = code_state()
    python = Path(sys.executable)
    if python.is_relative_to(REPO):
        python = python.relative_to(REPO)
    command = f"{python} bench/parse_bench.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    log(f"tools {args.tool_list}, {args.runs} round(s), input {log_input}")
    if spark_conf:
        log("spark-submit: " + shlex.join(spark_submit_argv(ctx, Path("LAKE"))))

    runs: list[Run] = []
    started = time.time()
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
    machine["load_after"] = load_average()
    code_after = code_state()
    if code_after.split(":")[-1] != code_before.split(":")[-1]:
        log(f"WARNING: the code changed during the run ({code_before} -> {code_after})")
    summary = summarize(runs, args.tool_list)
    result = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command.strip(),
        "elapsed_s": round(time.time() - started, 1),
        "tools": args.tool_list,
        "input": input_info,
        "machine": machine,
        "versions": versions(args.tool_list),
        "code": {"before": code_before, "after": code_after},
        "profile": bool(args.profile),
        "spark_conf": spark_conf,
        "spark_submit": shlex.join(spark_submit_argv(ctx, workdir / "out/botwatch/lake"))
        if spark_conf
        else None,
        "summary": summary,
        "ratios": ratios(summary),
        "runs": [asdict(r) for r in runs],
    }
    section = markdown(result)
    json_path = Path(args.json) if args.json else workdir / "results.json"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    (workdir / "results.md").write_text(section)
    print(section)
    log(f"results: {json_path} and {workdir / 'results.md'}; logs in {workdir / 'logs'}")
    if args.update_readme:
        update_readme(section)
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
