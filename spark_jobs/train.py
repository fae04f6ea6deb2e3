"""Train stage: fit the use case's model on the trailing window of session features.

The window ends with this interval (its partition included) and spans
``model.training_window_days`` before the interval's end, so a rerun of an interval fits on the
same data. A new version goes to the model registry and becomes the champion for intervals
ending at or after this one. When the champion for this interval is younger than
``model.retrain_every_days`` and was fit with the same config, the stage skips training and
says so in its run record.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from spark_jobs.errors import StageFailed
from spark_jobs.lake import layout, storage
from spark_jobs.lake.runs import StageContext
from spark_jobs.models import registry
from spark_jobs.models.anomaly import calibration
from spark_jobs.models.kinds import ModelKind, model_kind
from spark_jobs.stage.runner import run_main, write_run_record


def window_intervals(spark, ctx: StageContext) -> tuple[str, list[str]]:
    """The first key of the training window, and the feature partitions inside it."""
    days = ctx.usecase.model.training_window_days
    first = layout.interval_key(ctx.end - timedelta(days=days))
    keys = storage.list_partitions(spark, ctx.lake_root, "features", ctx.usecase.id)
    return first, [k for k in keys if first <= k <= ctx.key]


def with_verdicts(spark, ctx: StageContext, data, kind: ModelKind):
    """The window's sessions with ``verdict_label`` from the analysts' verdicts on alerts of the
    window (``botwatch feedback``) when the kind learns from them, and how many sessions they
    label by kind (None when the kind does not use them)."""
    if not kind.uses_verdicts(ctx.usecase.model):
        return data, None
    from spark_jobs.alerting import feedback
    from spark_jobs.models import labels

    since = ctx.end - timedelta(days=ctx.usecase.model.training_window_days)
    verdicts = feedback.load_verdicts(spark, ctx.lake_root, ctx.usecase.id)
    window = [v for v in verdicts if v.interval_end > since and v.interval_start < ctx.end]
    data = labels.with_verdict_labels(data, window)
    return data, labels.verdict_counts(data)


def training_data(spark, ctx: StageContext, paths: list[str], kind: ModelKind):
    """The window's sessions; for a kind that learns from labels only the labelled ones, with
    ``label``, the label summary for the metadata (empty otherwise) and the verdict labels
    counts (``with_verdicts``). Read with the dataset's base path, so each row keeps its
    ``interval`` (``models.anomaly.calibration``)."""
    data = spark.read.option("basePath", ctx.dataset("features")).parquet(*paths)
    data = calibration.with_alertable(data, ctx.usecase.alert.min_requests)
    data, verdict_labels = with_verdicts(spark, ctx, data, kind)
    if not kind.learns_from_labels:
        return data, {}, verdict_labels
    from spark_jobs.models import labels

    return *labels.training_labels(spark, data, ctx.usecase.model), verdict_labels


def _metadata(ctx: StageContext, version, first, intervals, fitted, label_summary) -> dict:
    """What the registry keeps beside a version: enough to tell which data and config made it."""
    usecase, cfg = ctx.usecase, ctx.usecase.model
    return {
        "model_version": version,
        "use_case": usecase.id,
        "kind": cfg.kind,
        "algorithm": registry.algorithm_name(usecase),
        "fingerprint": registry.fingerprint(usecase),
        "window_start": layout.key_to_datetime(first).isoformat(),
        "window_end": ctx.end.isoformat(),
        "intervals": intervals,
        "features": list(usecase.features),
        "entity": usecase.entity.model_dump(mode="json"),
        "config": cfg.model_dump(mode="json"),
        "params": fitted.params,
        "training_metrics": fitted.metrics,
        "labels": label_summary,
        "trained_for": ctx.key,
    }


def body(spark, ctx: StageContext) -> None:
    usecase, cfg = ctx.usecase, ctx.usecase.model
    current = registry.champion(spark, ctx.lake_root, usecase.id, ctx.end)
    fresh, why = registry.is_fresh(current, usecase, ctx.end)
    if fresh:
        write_run_record(spark, ctx, skipped=True, reason=why, model_version=current.version)
        return

    first, intervals = window_intervals(spark, ctx)
    if not intervals:
        raise StageFailed(
            f"no features of {usecase.id} between {first} and {ctx.key} "
            f"under {ctx.dataset('features')}; run the feature stage first"
        )
    paths = [f"{ctx.dataset('features')}/interval={key}" for key in intervals]
    kind = model_kind(cfg.kind)
    data, label_summary, verdict_labels = training_data(spark, ctx, paths, kind)
    fitted = kind.fit(data, usecase.features, cfg)

    version = registry.new_version(usecase, ctx.key)
    target = registry.save_model(spark, ctx.lake_root, usecase.id, version, fitted)
    metadata = _metadata(ctx, version, first, intervals, fitted, label_summary)
    metadata["verdict_labels"] = verdict_labels
    registry.write_metadata(spark, ctx.lake_root, usecase.id, version, metadata)
    registry.promote(
        spark,
        ctx.lake_root,
        usecase.id,
        registry.Promotion(
            version=version,
            window_end=ctx.end,
            fingerprint=metadata["fingerprint"],
            promoted_for=ctx.key,
        ),
    )
    write_run_record(
        spark,
        ctx,
        skipped=False,
        reason=why,
        model_version=version,
        intervals=len(intervals),
        training_metrics=fitted.metrics,
        labels=label_summary,
        verdict_labels=verdict_labels,
        output=target,
    )


def main(argv: list[str] | None = None) -> int:
    return run_main("train", body, argv)


if __name__ == "__main__":
    sys.exit(main())
