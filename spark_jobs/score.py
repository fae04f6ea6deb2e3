"""Score stage: every entity of the interval gets a 0-100 anomaly score and its explanation.

Uses the latest model trained at or before this interval, so backfilling an old interval
never scores it with a model that has seen its future. The features fed to the model are the
ones it was trained on (from its metadata), even if the use case's list has changed since.
"""

from __future__ import annotations

import sys

from pyspark.ml import PipelineModel
from pyspark.sql import functions as F

from spark_jobs import anomaly_model, lake
from spark_jobs.job_common import StageContext, StageFailed, log, run_main, write_run_record
from spark_jobs.usecase_schema import KNOWN_FEATURES

PERCENTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


def latest_model_path(spark, ctx: StageContext) -> str:
    """The models partition of the newest key <= this interval's key."""
    keys = lake.list_partitions(spark, ctx.lake_root, "models", ctx.usecase.id)
    usable = [k for k in keys if k <= ctx.key]
    if not usable:
        raise StageFailed(
            f"no model trained for {ctx.usecase.id} at or before {ctx.key} "
            f"under {ctx.dataset('models')}; run the train stage first"
        )
    return f"{ctx.dataset('models')}/interval={usable[-1]}"


def score_columns() -> list[str]:
    return [
        "entity", "client", "user_agent", *KNOWN_FEATURES,
        "score", "distance", "cluster", "model_version", "contributions",
    ]  # fmt: skip


def body(spark, ctx: StageContext) -> None:
    model_dir = latest_model_path(spark, ctx)
    metadata = lake.read_json(spark, f"{model_dir}/metadata.json")
    model = PipelineModel.load(f"{model_dir}/pipeline")
    features = metadata["features"]
    if features != list(ctx.usecase.features):
        log.warning(
            "model %s uses features %s, not the config's", metadata["model_version"], features
        )

    source = ctx.path("features")
    if not lake.exists(spark, source):
        raise StageFailed(f"no features at {source}; did the feature stage run for {ctx.key}?")
    scored = (
        anomaly_model.with_distance(model, spark.read.parquet(source))
        .transform(lambda df: anomaly_model.with_score(df, metadata["calibration_quantiles"]))
        .transform(lambda df: anomaly_model.with_contributions(df, features))
        .withColumn("model_version", F.lit(metadata["model_version"]))
        .select(*score_columns())
    )
    target = ctx.path("scores")
    scored.write.mode("overwrite").parquet(target)

    written = spark.read.parquet(target)
    stats = written.agg(
        F.count(F.lit(1)).alias("entities"),
        F.max("score").alias("max"),
        F.count(F.when(F.col("score") >= ctx.usecase.threshold, 1)).alias("at_or_above_threshold"),
        *[F.percentile_approx("score", p, 10_000).alias(n) for n, p in PERCENTILES.items()],
    ).first()
    write_run_record(
        spark,
        ctx,
        model_version=metadata["model_version"],
        model_path=model_dir,
        output=target,
        **stats.asDict(),
    )


def main(argv: list[str] | None = None) -> int:
    return run_main("score", body, argv)


if __name__ == "__main__":
    sys.exit(main())
