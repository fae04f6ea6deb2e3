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
import sys
import time
from collections.abc import Callable
from typing import Any

from spark_jobs.config.loading import load_usecase
from spark_jobs.errors import StageFailed
from spark_jobs.lake import storage
from spark_jobs.lake.layout import parse_instant
from spark_jobs.lake.records import RECORD_TYPES, IngestRecord, RecordError, RunRecord
from spark_jobs.lake.runs import StageContext
from spark_jobs.reporting.stage_summary import StageSummary, emit, written_paths
from spark_jobs.session import spark_session
from spark_jobs.stage.shipping import ship_code

log = logging.getLogger("botwatch")
#: Run record path -> the JSON this process wrote there: the stage summary shows this run's
#: record, never one an earlier run left in the lake.
_written: dict[str, dict[str, Any]] = {}


def build_parser(stage: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"botwatch-{stage}", description=f"botwatch {stage} stage"
    )
    parser.add_argument("--config", required=True, help="use-case YAML file")
    parser.add_argument("--start", required=True, type=parse_instant, help="data interval start")
    parser.add_argument("--end", required=True, type=parse_instant, help="data interval end")
    parser.add_argument("--lake", default=None, help="lake root (overrides the config)")
    return parser


def parse_context(stage: str, argv: list[str] | None) -> tuple[StageContext, argparse.Namespace]:
    parser = build_parser(stage)
    args = parser.parse_args(argv)
    if args.end <= args.start:
        parser.error(f"--end {args.end} must be after --start {args.start}")
    usecase = load_usecase(args.config)
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
        record=record,
        wrote=written_paths(record, ctx.path),
        failure=failure,
    )
    emit(summary)


def run_main(stage: str, body: Callable[[Any, StageContext], None], argv: list[str] | None) -> int:
    """Run ``body(spark, ctx)`` with logging, turn StageFailed into exit code 1, and end with
    the stage summary whatever happened (an unexpected error is re-raised after it)."""
    began = time.monotonic()
    setup_logging()
    ctx, _ = parse_context(stage, argv)
    _written.pop(ctx.run_record_path(), None)
    try:
        run_body(get_spark(ctx), ctx, body)
    except StageFailed as exc:
        log.error("%s %s failed: %s", ctx.usecase.id, stage, exc)
        print_summary(ctx, began, str(exc))
        return 1
    except Exception as exc:
        print_summary(ctx, began, f"{type(exc).__name__}: {exc}")
        raise
    print_summary(ctx, began)
    return 0
