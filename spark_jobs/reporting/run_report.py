"""Gathers what the HTML run report shows, from the lake, and writes the report beside it.

The counts come from the run records the earlier stages left (so the report shows what this
run's pipeline really did), the score histogram from the scores partition (aggregated in Spark:
a busy interval has hundreds of thousands of sessions), the trend from earlier alert records.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from pyspark.sql import functions as F

from spark_jobs.alerting import feedback
from spark_jobs.lake import layout, records, storage
from spark_jobs.lake.runs import StageContext

log = logging.getLogger("botwatch.report")
R = TypeVar("R", bound=records.RunRecord)

REPORT_FILE = "report.html"


def _record(spark: Any, ctx: StageContext, kind: type[R], key: str | None = None) -> R | None:
    """The run record of stage ``kind.STAGE`` (this interval's, or interval ``key``'s); None
    when the stage left none, or one the report cannot read (it shows what it has)."""
    path = ctx.run_record_path(kind.STAGE)
    if key is not None:
        path = f"{ctx.dataset('runs')}/interval={key}/{kind.STAGE}.json"
    if not storage.exists(spark, path):
        return None
    try:
        return kind.from_json(storage.read_json(spark, path))
    except ValueError as exc:  # not JSON, or a RecordError
        log.warning("run record %s is unreadable (%s); left out of the report", path, exc)
        return None


def score_histogram(scores: Any) -> list[int]:
    """Sessions per 1-point score bin; a score of 100 falls in the last bin."""
    counts = [0] * 100
    binned = scores.select(F.least(F.floor("score"), F.lit(99)).cast("int").alias("bin"))
    for row in binned.groupBy("bin").count().collect():
        if row["bin"] is not None and 0 <= row["bin"] < 100:
            counts[row["bin"]] += int(row["count"])
    return counts


def trend(spark: Any, ctx: StageContext, counts: dict[str, int], runs: int) -> list[dict]:
    """Alerts per interval for the last ``runs`` intervals up to this one, oldest first."""
    keys = storage.list_partitions(spark, ctx.lake_root, "runs", ctx.usecase.id)
    earlier = [k for k in keys if k < ctx.key][-(runs - 1) :] if runs > 1 else []
    points = []
    for key in earlier:
        record = _record(spark, ctx, records.AlertRecord, key)
        if record:
            points.append(
                {
                    "interval_start": layout.iso_utc(layout.key_to_datetime(key)),
                    "alerts": record.alerts,
                    "suppressed": record.suppressed,
                }
            )
    points.append(
        {
            "interval_start": layout.iso_utc(ctx.start),
            "alerts": counts["alerts"],
            "suppressed": counts["suppressed"],
        }
    )
    return points


def verdict_counts(spark: Any, ctx: StageContext, suppressed: list[dict]) -> dict[str, int]:
    """Rows of the counts table on analysts' verdicts (``botwatch feedback``): the candidates
    they suppressed in this run (their reasons are in the suppressed table) and the verdicts
    recorded so far for the use case, by kind."""
    recorded = feedback.counts(feedback.read_records(spark, ctx.lake_root, ctx.usecase.id))
    return {
        "suppressed by verdict": len(feedback.by_verdict(suppressed)),
        "false positives recorded": recorded["false_positive"],
        "true positives recorded": recorded["true_positive"],
    }


def report_data(
    spark: Any, ctx: StageContext, counts: dict[str, int], docs: list[dict], suppressed: list[dict]
) -> dict[str, Any]:
    usecase = ctx.usecase
    ingest = _record(spark, ctx, records.IngestRecord)
    scored = _record(spark, ctx, records.ScoreRecord)
    lines = ingest.counts() if ingest else {}
    scores = spark.read.parquet(ctx.path("scores"))
    return {
        "use_case": usecase.id,
        "description": usecase.description,
        "interval_start": layout.iso_utc(ctx.start),
        "interval_end": layout.iso_utc(ctx.end),
        "model_version": scored.model_version if scored else None,
        "threshold": float(usecase.threshold),
        "counts": {
            **{name: lines.get(name) for name in records.LINE_COUNTS},
            "sessions": scored.sessions if scored else None,
            "entities": scored.entities if scored else None,
            "candidates": counts["candidates"],
            "alerts": counts["alerts"],
            "suppressed": counts["suppressed"],
            **verdict_counts(spark, ctx, suppressed),
        },
        "score_histogram": score_histogram(scores),
        "alerts": docs,
        "suppressed": [
            {"entity": r["entity"], "score": r["score"], "suppression": r["suppression"]}
            for r in suppressed
        ],
        "trend": trend(spark, ctx, counts, usecase.alert.report.trend_runs),
        "sinks": [{"name": s.sink_name, "type": s.type} for s in usecase.alert.sinks],
        "outputs": {"alerts": ctx.path("alerts"), "outbox": ctx.path("outbox")},
    }


def write(
    spark: Any, ctx: StageContext, counts: dict[str, int], docs: list[dict], suppressed: list[dict]
) -> str:
    """Render and store ``reports/use_case=X/interval=K/report.html``; return its path."""
    from spark_jobs.reporting.html_report import render_report  # matplotlib: only when reporting

    html = render_report(report_data(spark, ctx, counts, docs, suppressed))
    path = f"{ctx.path('reports')}/{REPORT_FILE}"
    storage.write_text(spark, path, html)
    return path
