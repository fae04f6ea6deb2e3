"""What every stage entrypoint shares: its command line, its SparkSession and its run record.

A stage is ``main(argv)``: parse ``--config/--start/--end/--lake``, read, apply pure DataFrame
transforms, write its own partition. The data window always comes from the arguments (the DAG
run's data interval), never from the clock, so a rerun or backfill of an interval does the same.
Only the entrypoints (``spark_jobs/<stage>.py``) import this module; domain code raises
``StageFailed`` from ``spark_jobs.errors`` and takes what it needs as arguments.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from spark_jobs.config.loading import load_usecase
from spark_jobs.errors import ConfigError, SparkServerUnavailable, StageFailed
from spark_jobs.lake import storage
from spark_jobs.lake.layout import parse_instant
from spark_jobs.lake.records import RECORD_TYPES, IngestRecord, RecordError, RunRecord
from spark_jobs.lake.runs import StageContext
from spark_jobs.reporting.stage_summary import StageSummary, emit, written_paths
from spark_jobs.session import has_active_session, is_remote, spark_session
from spark_jobs.stage.shipping import ship_code

log = logging.getLogger("botwatch")
#: Run record path -> the JSON this process wrote there: the stage summary shows this run's
#: record, never one an earlier run left in the lake.
_written: dict[str, dict[str, Any]] = {}


def build_parser(stage: str, description: str | None = None) -> argparse.ArgumentParser:
    """The command line of a stage (``botwatch run STAGE --help`` prints it).

    :param description: what the stage does (its module docstring); default one line.
    """
    parser = argparse.ArgumentParser(
        prog=f"botwatch run {stage}",
        description=description or f"botwatch {stage} stage",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Times are ISO 8601 (2015-05-18T00:00:00Z; a date alone is midnight UTC). "
        "In a DAG they are the run's data interval.",
    )
    parser.add_argument("--config", required=True, help="use-case YAML file")
    parser.add_argument(
        "--start", required=True, type=parse_instant, help="data interval start (inclusive)"
    )
    parser.add_argument(
        "--end", required=True, type=parse_instant, help="data interval end (exclusive)"
    )
    parser.add_argument("--lake", default=None, help="lake root (default: the config's)")
    return parser


def parse_context(
    stage: str, argv: list[str] | None, description: str | None = None
) -> tuple[StageContext, argparse.Namespace]:
    """The stage's context from its command line; a bad config raises ConfigError."""
    parser = build_parser(stage, description)
    args = parser.parse_args(argv)
    if args.end <= args.start:
        parser.error(f"--end {args.end} must be after --start {args.start}")
    usecase = load_usecase(args.config)
    if stage == "ingest":  # an unset ${VAR} in the source: say so before a JVM starts
        try:
            usecase.source_glob_all()
        except ConfigError as exc:
            raise ConfigError.at(args.config, "source.path", str(exc)) from None
    ctx = StageContext(
        stage=stage,
        config_path=args.config,
        usecase=usecase,
        start=args.start,
        end=args.end,
        lake_root=args.lake or usecase.lake_root(),
    )
    return ctx, args


def get_spark(ctx: StageContext) -> Any:
    """The session of this job; under spark-submit the master and conf come from the submit.
    On a cluster the executors get this driver's ``spark_jobs`` before any job (``shipping``)."""
    spark = spark_session(f"botwatch-{ctx.usecase.id}-{ctx.stage}", "submit", ctx.usecase.spark)
    ship_code(spark)
    return spark


def write_run_record(
    spark: Any, ctx: StageContext, record: RunRecord | None = None, /, **fields: Any
) -> dict[str, Any]:
    """Write this stage's run record, with the header taken from ``ctx``; return its JSON.

    ``record`` is the stage's typed record (``lake.records``); stages not ported to one yet
    pass their fields as keywords, which land in the same file the same way.
    """
    header = {
        "use_case": ctx.usecase.id,
        "interval_start": ctx.start.isoformat(),
        "interval_end": ctx.end.isoformat(),
    }
    if record is None:
        data = {"stage": ctx.stage, **header, **fields}
    elif fields:
        raise TypeError("write_run_record takes a record or keyword fields, not both")
    elif ctx.stage != record.STAGE:
        raise ValueError(f"a {record.STAGE} record is not the {ctx.stage} stage's")
    else:
        data = record.model_copy(update=header).to_json()
    storage.write_json(spark, ctx.run_record_path(), data)
    _written[ctx.run_record_path()] = data
    log.info("%s %s: %s", ctx.usecase.id, ctx.stage, data)
    return data


def setup_logging() -> None:
    """botwatch's own lines at INFO on stderr; py4j's ("Closing down clientserver connection"
    at every exit) only from WARNING, like Spark's (``spark_jobs/conf/log4j2.properties``)."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)


def no_data_reason(spark: Any, ctx: StageContext) -> str | None:
    """Why this interval has no data, when its ingest said so (``outcome: no_data``); None
    otherwise, also when there is no readable ingest record (the stage then fails as it would)."""
    path = ctx.run_record_path("ingest")
    if ctx.stage == "ingest" or not storage.exists(spark, path):
        return None
    try:
        ingest = IngestRecord.from_json(storage.read_json(spark, path))
    except ValueError:  # not JSON, or a RecordError
        return None
    if ingest.outcome != "no_data":
        return None
    return ingest.no_data_reason or "no log lines"


def run_body(spark: Any, ctx: StageContext, body: Callable[[Any, StageContext], None]) -> None:
    """The stage's body, or at once a "no data" record when ingest found none for the interval:
    no model is fitted on nothing, no alert raised, and the DAG run stays green."""
    reason = no_data_reason(spark, ctx)
    if reason is None:
        body(spark, ctx)
    else:
        write_run_record(spark, ctx, RECORD_TYPES[ctx.stage].of_no_data(reason))


def print_summary(ctx: StageContext, began: float, failure: str | None = None) -> None:
    """End the task log with the stage summary, built from the record this run wrote."""
    data = _written.get(ctx.run_record_path())
    record = None
    if data is not None:
        try:
            record = RECORD_TYPES[ctx.stage].from_json(data)
        except RecordError as exc:
            log.warning("the summary cannot read its own run record: %s", exc)
    summary = StageSummary(
        stage=ctx.stage,
        use_case=ctx.usecase.id,
        start=ctx.start,
        end=ctx.end,
        timezone=ctx.usecase.timezone,
        took_s=time.monotonic() - began,
        phases=phases_of(began),
        record=record,
        wrote=written_paths(record, ctx.path),
        failure=failure,
    )
    emit(summary)


def process_age_s() -> float | None:
    """Seconds since this process started (interpreter start and imports before ``main``), or
    None where ``/proc`` cannot tell."""
    try:
        with open("/proc/self/stat", "rb") as handle:
            started_ticks = int(handle.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/uptime", "rb") as handle:
            uptime = float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, uptime - started_ticks / os.sysconf("SC_CLK_TCK"))


#: Monotonic times of the run's phases (``run_main``), for the summary's ``took`` line.
_phases: dict[str, float] = {}


def phases_of(began: float) -> tuple[tuple[str, float], ...]:
    """(label, seconds) of the process start, the session and the work of this run."""
    out = []
    if (age := _phases.get("process_age")) is not None:
        out.append(("before main", age))
    if (ready := _phases.get("session")) is not None:
        out += [("session", ready - began), ("work", time.monotonic() - ready)]
    return tuple(out)


def run_main(stage: str, body: Callable[[Any, StageContext], None], argv: list[str] | None) -> int:
    """Run ``body(spark, ctx)`` with logging, turn StageFailed into exit code 1 and a bad config
    into its one line and exit code 2 (no traceback), and end with the stage summary whatever
    happened (an unexpected error is re-raised after it)."""
    began = time.monotonic()
    _phases.clear()
    _phases["process_age"] = process_age_s()
    setup_logging()
    module = sys.modules.get(getattr(body, "__module__", ""))
    try:
        ctx, _ = parse_context(stage, argv, getattr(module, "__doc__", None))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    _written.pop(ctx.run_record_path(), None)
    spark = None
    # In-process callers (tests, ``botwatch`` tools) may already hold the session: keep theirs.
    reused = has_active_session()
    try:
        spark = get_spark(ctx)
        _phases["session"] = time.monotonic()
        run_body(spark, ctx, body)
    except (StageFailed, SparkServerUnavailable) as exc:
        log.error("%s %s failed: %s", ctx.usecase.id, stage, exc)
        print_summary(ctx, began, str(exc))
        return 1
    except ConfigError as exc:
        log.error("%s %s: %s: %s", ctx.usecase.id, stage, ctx.config_path, exc)
        print_summary(ctx, began, f"{ctx.config_path}: {exc}")
        return 2
    except Exception as exc:
        print_summary(ctx, began, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if not reused:
            release(spark)
    print_summary(ctx, began)
    return 0


def release(spark: Any) -> None:
    """End a Connect session on its server (its cached data and artifacts go with it); a
    classic session ends with this process's JVM."""
    if spark is not None and is_remote(spark):
        try:
            spark.stop()
        except Exception as exc:  # noqa: BLE001 - the server drops idle sessions anyway
            log.warning("could not release the Spark Connect session: %s", exc)
