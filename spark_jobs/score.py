"""Score stage: every session of the interval gets a 0-100 score and its explanation.

Uses the registry's champion for this interval (the newest model whose training window ended
at or before the interval's end), so backfilling an old interval never scores it with a model
that has seen its future. The features fed to the model are the ones it was trained on (from
its metadata), even if the use case's list has changed since.
"""

from __future__ import annotations

import sys

from pyspark.sql import functions as F

from spark_jobs.errors import StageFailed
from spark_jobs.lake import storage
from spark_jobs.lake.runs import StageContext
from spark_jobs.models import registry
from spark_jobs.models.kinds import SCORED_COLUMNS
from spark_jobs.stage.runner import log, run_main, write_run_record

PERCENTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
#: Columns the score stage adds to the features' own: the model kind's agreed output
#: (score, details, contributions; see ``models.kinds``) and which model produced it.
SCORE_COLUMNS = (*SCORED_COLUMNS, "model_version", "model_kind")


def body(spark, ctx: StageContext) -> None:
    usecase = ctx.usecase
    promotion = registry.champion(spark, ctx.lake_root, usecase.id, ctx.end)
    if promotion is None:
        raise StageFailed(
            f"no model of {usecase.id} trained at or before {ctx.end.isoformat()} in "
            f"{registry.registry_path(ctx.lake_root, usecase.id)}; run the train stage first"
        )
    model, metadata = registry.load_model(spark, ctx.lake_root, usecase.id, promotion.version)
    if metadata["features"] != list(usecase.features):
        log.warning(
            "model %s uses features %s, not the config's", promotion.version, metadata["features"]
        )

    source = ctx.path("features")
    if not storage.exists(spark, source):
        raise StageFailed(f"no features at {source}; did the feature stage run for {ctx.key}?")
    features = spark.read.parquet(source)
    scored = (
        model.score(features)
        .withColumn("model_version", F.lit(promotion.version))
        .withColumn("model_kind", F.lit(metadata["kind"]))
        .select(*features.columns, *SCORE_COLUMNS)
    )
    target = ctx.path("scores")
    scored.write.mode("overwrite").parquet(target)

    written = spark.read.parquet(target)
    stats = written.agg(
        F.count(F.lit(1)).alias("sessions"),
        F.count_distinct("entity").alias("entities"),
        F.max("score").alias("max"),
        F.count(F.when(F.col("score") >= usecase.threshold, 1)).alias("at_or_above_threshold"),
        *[F.percentile_approx("score", p, 10_000).alias(n) for n, p in PERCENTILES.items()],
    ).first()
    write_run_record(
        spark,
        ctx,
        model_version=promotion.version,
        model_window_end=promotion.window_end.isoformat(),
        output=target,
        **stats.asDict(),
    )


def main(argv: list[str] | None = None) -> int:
    return run_main("score", body, argv)


if __name__ == "__main__":
    sys.exit(main())
