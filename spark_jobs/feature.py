"""Feature stage: parsed log rows of one interval -> one row of behaviour features per entity.

spark-submit spark_jobs/feature.py --config usecase_configs/X.yaml --start ... --end ...
"""

from __future__ import annotations

import sys

from spark_jobs import lake
from spark_jobs.behaviour_features import entity_features
from spark_jobs.job_common import StageContext, StageFailed, run_main, write_run_record


def body(spark, ctx: StageContext) -> None:
    source = ctx.path("parsed")
    if not lake.exists(spark, source):
        raise StageFailed(f"no parsed logs at {source}; did ingest run for {ctx.key}?")
    usecase = ctx.usecase
    features = entity_features(spark.read.parquet(source), usecase.entity.key, usecase.timezone)
    target = ctx.path("features")
    features.write.mode("overwrite").parquet(target)
    # Count what was written rather than recomputing the aggregation.
    entities = spark.read.parquet(target).count()
    write_run_record(spark, ctx, entities=entities, entity_key=usecase.entity.key, output=target)


def main(argv: list[str] | None = None) -> int:
    return run_main("feature", body, argv)


if __name__ == "__main__":
    sys.exit(main())
