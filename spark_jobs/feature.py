"""Feature stage: parsed log rows of one interval -> one row of behaviour features per session.

spark-submit spark_jobs/feature.py --config usecase_configs/X.yaml --start ... --end ...
"""

from __future__ import annotations

import sys

from pyspark.sql import functions as F

from spark_jobs.errors import StageFailed
from spark_jobs.features.behaviour import session_features
from spark_jobs.features.relative import with_relative_features
from spark_jobs.features.sessions import unattributed_rows
from spark_jobs.lake import storage
from spark_jobs.lake.records import FeatureRecord
from spark_jobs.lake.runs import StageContext
from spark_jobs.stage.runner import run_main, write_run_record


def body(spark, ctx: StageContext) -> None:
    source = ctx.path("parsed")
    if not storage.exists(spark, source):
        raise StageFailed(f"no parsed logs at {source}; did ingest run for {ctx.key}?")
    entity = ctx.usecase.entity
    parsed = spark.read.parquet(source)
    features = session_features(
        parsed, entity.key, ctx.usecase.timezone, entity.session_gap_minutes
    ).transform(with_relative_features)  # the interval is the population
    target = ctx.path("features")
    features.write.mode("overwrite").parquet(target)
    # Count what was written rather than recomputing the aggregation.
    counts = spark.read.parquet(target).agg(
        F.count(F.lit(1)).alias("sessions"), F.count_distinct("entity").alias("entities")
    )
    sessions, entities = counts.first()
    record = FeatureRecord(
        sessions=sessions,
        entities=entities,
        unattributed_rows=unattributed_rows(parsed, entity.key),
        entity_key=entity.key,
        session_gap_minutes=entity.session_gap_minutes,
        output=target,
    )
    write_run_record(spark, ctx, record)


def main(argv: list[str] | None = None) -> int:
    return run_main("feature", body, argv)


if __name__ == "__main__":
    sys.exit(main())
