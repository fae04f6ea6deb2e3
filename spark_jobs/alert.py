"""Alert stage: decide which flagged entities become alerts, put them in the outbox, report.

Nothing is sent from here: the raised alerts go to the lake's outbox first, and the deliver step
(``spark_jobs/alerting/delivery.py``, run by an Airflow task that can read connections) sends them. So an alert
exists in the lake before any receiver hears of it, and a sink that is down loses nothing.

The alerts partition (raised and suppressed, each with its reason) is overwritten, so a rerun
shows the rerun's verdicts; the outbox only grows, so an alert once raised is never taken back.

    spark-submit spark_jobs/alert.py --config usecase_configs/x.yaml --start ... --end ...
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pyspark.sql import functions as F

from spark_jobs.alerting import feedback, outbox
from spark_jobs.alerting.candidates import (
    ALERT_SCHEMA,
    candidates,
    to_records,
    top_session_per_entity,
    with_alert_id,
    with_check_columns,
    with_sample_requests,
    with_top_features,
)
from spark_jobs.alerting.documents import to_document
from spark_jobs.alerting.lifecycle import (
    CAPPED,
    RAISED,
    SUPPRESSED,
    Candidate,
    decide,
    prior_alerts,
    realert_window_start,
    severity,
)
from spark_jobs.alerting.scope import IN_SCOPE, with_scope
from spark_jobs.errors import StageFailed
from spark_jobs.lake import layout, storage
from spark_jobs.lake.records import AlertRecord
from spark_jobs.lake.runs import StageContext
from spark_jobs.reporting import run_report
from spark_jobs.stage.runner import run_main, write_run_record

#: What the lifecycle decisions need of each candidate (``lifecycle.Candidate``).
LIGHT_COLUMNS = (
    "alert_id",
    "entity",
    "client",
    "user_agent",
    "score",
    "crawler_operator",
    "spoofed_crawler",
)

log = logging.getLogger("botwatch.alert")


def scoped_scores(spark: Any, ctx: StageContext) -> Any:
    """The interval's scores with the crawler check's columns and ``in_scope`` (``when:``)."""
    scores = with_check_columns(spark.read.parquet(ctx.path("scores")))
    return with_scope(scores, ctx.usecase.condition())


def count_scoped_out(spark: Any, ctx: StageContext) -> int | None:
    """Entities that would have been candidates but for ``when:``: counted, never alerted."""
    if ctx.usecase.when is None:
        return None
    usecase, cfg = ctx.usecase, ctx.usecase.alert
    scores = scoped_scores(spark, ctx)

    def flagged(df: Any) -> Any:
        spoofed = cfg.spoofed_crawlers == "alert"
        found = candidates(top_session_per_entity(df), usecase.threshold, cfg.min_requests, spoofed)
        return found.select("entity")

    return flagged(scores.drop(IN_SCOPE)).join(flagged(scores), "entity", "left_anti").count()


def build_alerts(spark: Any, ctx: StageContext, prior: dict[str, list[dict]]) -> tuple[list, int]:
    """The interval's alert records (raised and suppressed) and how many the cap left out."""
    usecase, cfg = ctx.usecase, ctx.usecase.alert
    scores = top_session_per_entity(scoped_scores(spark, ctx))
    flagged = with_alert_id(
        candidates(scores, usecase.threshold, cfg.min_requests, cfg.spoofed_crawlers == "alert"),
        usecase.id,
        ctx.start,
        ctx.end,
    ).cache()
    try:
        light = [
            Candidate(
                r["alert_id"],
                r["entity"],
                r["client"],
                r["user_agent"],
                float(r["score"]),
                r["crawler_operator"],
                r["spoofed_crawler"],
            )
            for r in flagged.select(*LIGHT_COLUMNS).collect()
        ]
        decisions = decide(
            light,
            allowlist=cfg.allowlist,
            prior=prior,
            interval_start=ctx.start,
            interval_start_iso=layout.iso_utc(ctx.start),
            window_start_iso=layout.iso_utc(realert_window_start(ctx.start, cfg.realert_minutes)),
            realert_minutes=cfg.realert_minutes,
            max_alerts=cfg.max_alerts,
            verdicts=feedback.load_verdicts(spark, ctx.lake_root, usecase.id),
            false_positive_days=cfg.false_positive_days,
        )
        kept = {aid: d for aid, d in decisions.items() if d.status != CAPPED}
        capped = len(decisions) - len(kept)
        if not kept:
            return [], capped
        ids = spark.createDataFrame([(aid,) for aid in kept], "alert_id string")
        rows = with_top_features(flagged.join(F.broadcast(ids), "alert_id"), cfg.top_features)
        parsed = spark.read.parquet(ctx.path("parsed")) if cfg.sample_requests else None
        rows = with_sample_requests(rows, parsed, cfg.sample_requests, usecase.entity.key)
        label = lambda score: severity(score, cfg.severity.high, cfg.severity.critical)  # noqa: E731
        return to_records(rows, kept, usecase.entity.key, label, usecase.condition()), capped
    finally:
        flagged.unpersist()


def body(spark: Any, ctx: StageContext) -> None:
    if not storage.exists(spark, ctx.path("scores")):
        raise StageFailed(f"no scores partition at {ctx.path('scores')}")
    cfg, store = ctx.usecase.alert, storage.LakeTextStore(spark)
    window_key = layout.interval_key(realert_window_start(ctx.start, cfg.realert_minutes))
    earlier = outbox.outbox_between(store, ctx.lake_root, ctx.usecase.id, window_key, ctx.key)
    records, capped = build_alerts(spark, ctx, prior_alerts(earlier))
    (
        spark.createDataFrame(records, ALERT_SCHEMA)
        .coalesce(1)
        .write.mode("overwrite")
        .parquet(ctx.path("alerts"))
    )
    raised = [r for r in records if r["status"] == RAISED]
    suppressed = [r for r in records if r["status"] == SUPPRESSED]
    docs = [to_document(r, ctx.usecase.description) for r in raised]
    in_outbox = outbox.write_outbox(store, ctx.lake_root, ctx.usecase.id, ctx.key, docs)
    counts = {
        "candidates": len(records) + capped,
        "alerts": len(raised),
        "suppressed": len(suppressed),
        "capped": capped,
        "scoped_out": count_scoped_out(spark, ctx),
    }
    report = None
    if cfg.report.enabled:
        report = run_report.write(spark, ctx, counts, docs, suppressed)
    record = AlertRecord(
        **counts,
        outbox=outbox.outbox_file(ctx.lake_root, ctx.usecase.id, ctx.key),
        outbox_alerts=len(in_outbox),
        report=report,
        suppressions=[f"{r['entity']}: {r['suppression']}" for r in suppressed[:20]],
        top_reasons=[f"{r['entity']}: {r['reason']}" for r in raised[:5]],
        **feedback.record_fields(spark, ctx.lake_root, ctx.usecase.id, suppressed),
    )
    write_run_record(spark, ctx, record)


def main(argv: list[str] | None = None) -> int:
    return run_main("alert", body, argv)


if __name__ == "__main__":
    sys.exit(main())
