"""Train stage: fit the use case's anomaly model on the trailing window of features.

The window ends with this interval (its partition included) and spans
``model.training_window_days`` before the interval's end, so a rerun of an interval fits on the
same data. The model is written under this interval's ``models`` partition; score picks the
latest one at or before the interval it scores.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from spark_jobs import anomaly_model, lake
from spark_jobs.job_common import StageContext, StageFailed, run_main, write_run_record


def window_intervals(spark, ctx: StageContext) -> tuple[str, list[str]]:
    """The first key of the training window, and the feature partitions inside it."""
    days = ctx.usecase.model.training_window_days
    first = lake.interval_key(ctx.end - timedelta(days=days))
    keys = lake.list_partitions(spark, ctx.lake_root, "features", ctx.usecase.id)
    return first, [k for k in keys if first <= k <= ctx.key]


def model_version(ctx: StageContext) -> str:
    return f"{ctx.usecase.model.type}-{ctx.key}"


def body(spark, ctx: StageContext) -> None:
    usecase, cfg = ctx.usecase, ctx.usecase.model
    first, intervals = window_intervals(spark, ctx)
    if not intervals:
        raise StageFailed(
            f"no features of {usecase.id} between {first} and {ctx.key} "
            f"under {ctx.dataset('features')}; run the feature stage first"
        )
    paths = [f"{ctx.dataset('features')}/interval={key}" for key in intervals]
    fitted = anomaly_model.fit(spark.read.parquet(*paths), cfg, usecase.features)

    target = ctx.path("models")
    fitted.pipeline.write().overwrite().save(f"{target}/pipeline")
    metadata = {
        "model_version": model_version(ctx),
        "use_case": usecase.id,
        "type": cfg.type,
        "window_start": lake.key_to_datetime(first).isoformat(),
        "window_end": ctx.end.isoformat(),
        "intervals": intervals,
        "features": list(usecase.features),
        "entity_key": usecase.entity.key,
        "params": {"k": fitted.k, "k_requested": cfg.k, "max_iter": cfg.max_iter, "seed": cfg.seed},
        "rows": fitted.rows,
        "distinct_rows": fitted.distinct_rows,
        "training_cost": fitted.training_cost,
        "cluster_sizes": fitted.cluster_sizes,
        "calibration_quantiles": fitted.quantiles,
    }
    lake.write_json(spark, f"{target}/metadata.json", metadata)
    write_run_record(
        spark,
        ctx,
        model_version=metadata["model_version"],
        intervals=len(intervals),
        rows=fitted.rows,
        k=fitted.k,
        training_cost=fitted.training_cost,
        output=target,
    )


def main(argv: list[str] | None = None) -> int:
    return run_main("train", body, argv)


if __name__ == "__main__":
    sys.exit(main())
