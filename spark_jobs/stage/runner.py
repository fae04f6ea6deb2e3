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
from collections.abc import Callable
from typing import Any

from spark_jobs.config.loading import load_usecase
from spark_jobs.errors import StageFailed
from spark_jobs.lake import storage
from spark_jobs.lake.layout import parse_instant
from spark_jobs.lake.records import RunRecord
from spark_jobs.lake.runs import StageContext
from spark_jobs.session import spark_session

log = logging.getLogger("botwatch")


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
    """The session of this job; under spark-submit the master and conf come from the submit."""
    return spark_session(f"botwatch-{ctx.usecase.id}-{ctx.stage}", "submit", ctx.usecase.spark)


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
    log.info("%s %s: %s", ctx.usecase.id, ctx.stage, data)
    return data


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def run_main(stage: str, body: Callable[[Any, StageContext], None], argv: list[str] | None) -> int:
    """Run ``body(spark, ctx)`` with logging, and turn StageFailed into exit code 1."""
    setup_logging()
    ctx, _ = parse_context(stage, argv)
    spark = get_spark(ctx)
    try:
        body(spark, ctx)
    except StageFailed as exc:
        log.error("%s %s failed: %s", ctx.usecase.id, stage, exc)
        return 1
    return 0
