"""What every stage entrypoint shares: its command line, its SparkSession and its run record.

A stage is ``main(argv)``: parse ``--config/--start/--end/--lake``, read, apply pure DataFrame
transforms, write its own partition. The data window always comes from the arguments (the DAG
run's data interval), never from the clock, so a rerun or backfill of an interval does the same.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from spark_jobs import lake
from spark_jobs.usecase_schema import UseCase, load_usecase

log = logging.getLogger("botwatch")


@dataclass(frozen=True)
class StageContext:
    """One stage run: the use case, its data interval and the lake it works in."""

    stage: str
    config_path: str
    usecase: UseCase
    start: datetime
    end: datetime
    lake_root: str

    @property
    def key(self) -> str:
        return lake.interval_key(self.start)

    def path(self, dataset: str) -> str:
        return lake.partition_path(self.lake_root, dataset, self.usecase.id, self.start)

    def dataset(self, dataset: str) -> str:
        return lake.dataset_path(self.lake_root, dataset, self.usecase.id)

    def run_record_path(self, stage: str | None = None) -> str:
        return f"{self.path('runs')}/{stage or self.stage}.json"


def parse_instant(text: str) -> datetime:
    """Parse an interval bound as Airflow renders it (``2015-05-17 00:00:00+00:00`` or ISO)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


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
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(f"botwatch-{ctx.usecase.id}-{ctx.stage}")
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    for key, value in ctx.usecase.spark.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    # Spark's INFO lines (thousands per job) would bury the stage's own log in the Airflow task.
    spark.sparkContext.setLogLevel(os.environ.get("BOTWATCH_SPARK_LOG_LEVEL", "WARN"))
    return spark


def write_run_record(spark: Any, ctx: StageContext, **fields: Any) -> dict[str, Any]:
    record = {
        "stage": ctx.stage,
        "use_case": ctx.usecase.id,
        "interval_start": ctx.start.isoformat(),
        "interval_end": ctx.end.isoformat(),
        **fields,
    }
    lake.write_json(spark, ctx.run_record_path(), record)
    log.info("%s %s: %s", ctx.usecase.id, ctx.stage, record)
    return record


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


class StageFailed(RuntimeError):
    """A stage refused its input (quality gate, missing model); the job exits non-zero."""


def run_main(stage: str, body, argv: list[str] | None) -> int:
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
