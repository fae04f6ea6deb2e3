"""Pure transforms from scored entities to alert records a person can act on.

An alert must say which entity, why (the features that pushed its score up, against the
population median) and show a few of its actual requests, so that triage needs no second query.
Its id depends only on use case, entity, data interval and model version: a rerun or backfill
of an interval produces the same ids, which is what lets sinks deliver each alert once.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.alerting.scope import IN_SCOPE
from spark_jobs.config.conditions import Condition
from spark_jobs.features.sessions import with_entity
from spark_jobs.lake.layout import iso_utc
from spark_jobs.reporting.text import fmt_num

#: Schema of an alert record; the alerts Parquet partition is written with it so that the
#: lake and the sinks hold the same thing.
ALERT_SCHEMA = (
    "alert_id string, use_case string, status string, suppression string, severity string, "
    "entity string, entity_key string, client string, user_agent string, "
    "score double, threshold double, interval_start string, interval_end string, "
    "session string, session_start string, session_end string, sessions long, "
    "declared_crawler boolean, crawler_name string, "
    "crawler_operator string, spoofed_crawler boolean, crawler_check string, "
    "model_version string, model_kind string, requests long, "
    "top_features array<struct<feature: string, value: double, population_median: double, "
    "percentile: double, share: double>>, "
    "sample_requests array<string>, reason string"
)


#: The crawler check's session columns and their types (``features.crawler_check``).
CHECK_TYPES = {"crawler_operator": "string", "spoofed_crawler": "double", "crawler_check": "string"}


def with_check_columns(scores_df: DataFrame) -> DataFrame:
    """Scores written before the crawler check existed get its columns, as null."""
    missing = {c: F.lit(None).cast(t) for c, t in CHECK_TYPES.items() if c not in scores_df.columns}
    return scores_df.withColumns(missing) if missing else scores_df


def top_session_per_entity(scores_df: DataFrame) -> DataFrame:
    """One row per entity: its highest-scoring session of the interval (ties: the earliest),
    with ``sessions`` (how many it had), so one busy entity raises one alert, not one per visit.
    With an ``in_scope`` column (``alerting.scope``) its best session in scope wins."""
    order = [F.col("score").desc(), F.col("session_start").asc(), F.col("session").asc()]
    if IN_SCOPE in scores_df.columns:
        order.insert(0, F.col(IN_SCOPE).desc())
    by_score = Window.partitionBy("entity").orderBy(*order)
    per_entity = Window.partitionBy("entity")
    return (
        scores_df.withColumn("sessions", F.count(F.lit(1)).over(per_entity))
        .withColumn("_rank", F.row_number().over(by_score))
        .where(F.col("_rank") == 1)
        .drop("_rank")
    )


def candidates(
    scores_df: DataFrame, threshold: float, min_requests: int, spoofed_alert: bool = False
) -> DataFrame:
    """Entities worth a person's time: high score (or, with ``spoofed_alert``, a crawler claim
    its operator's ranges or domains refute) and enough requests to judge.

    The threshold is kept on each row because the config may change later and an alert should
    still say which bar it cleared. Which candidates become alerts (allowlist, realert, cap) is
    decided in ``alert_lifecycle``. With an ``in_scope`` column only sessions in scope count.
    """
    worth = F.col("score") >= threshold
    if spoofed_alert and "spoofed_crawler" in scores_df.columns:
        worth = worth | (F.col("spoofed_crawler") == 1.0)
    if IN_SCOPE in scores_df.columns:
        worth = worth & F.col(IN_SCOPE)
    return scores_df.where(worth & (F.col("requests") >= min_requests)).withColumn(
        "threshold", F.lit(float(threshold))
    )


def with_alert_id(df: DataFrame, use_case: str, start: datetime, end: datetime) -> DataFrame:
    """Add use_case, interval bounds (ISO strings) and alert_id = sha256 of those, the entity
    and the model version (a retrained model's verdict is a new alert; the realert window
    keeps it from paging twice for one interval)."""
    return (
        df.withColumn("use_case", F.lit(use_case))
        .withColumn("interval_start", F.lit(iso_utc(start)))
        .withColumn("interval_end", F.lit(iso_utc(end)))
        .withColumn(
            "alert_id",
            F.sha2(
                F.concat_ws(
                    "|",
                    "use_case",
                    "entity",
                    "interval_start",
                    "interval_end",
                    F.coalesce(F.col("model_version"), F.lit("")),
                ),
                256,
            ),
        )
    )


def with_top_features(df: DataFrame, n: int) -> DataFrame:
    """The n features that contributed most (contributions arrive sorted by share desc)."""
    return df.withColumn("top_features", F.slice("contributions", 1, n))


def _sample_line() -> Column:
    """``2015-05-17T10:05:03Z GET /path 200 "UA"``; relies on the session time zone being UTC
    (job_common sets it). The query is kept (it often is the bot's tell, e.g. ``?action=``);
    unsplittable requests ("-", worm garbage) are shown raw."""
    target = F.concat(
        F.coalesce(F.col("path"), F.lit("")),
        F.coalesce(F.concat(F.lit("?"), F.col("query")), F.lit("")),
    )
    what = F.when(F.col("method").isNotNull(), F.concat_ws(" ", F.col("method"), target)).otherwise(
        F.col("request")
    )
    return F.concat(
        F.date_format("ts", "yyyy-MM-dd'T'HH:mm:ss'Z'"),
        F.lit(" "),
        what,
        F.lit(" "),
        F.col("status").cast("string"),
        F.lit(' "'),
        F.coalesce(F.col("user_agent"), F.lit("-")),
        F.lit('"'),
    )


def with_sample_requests(
    alerts_df: DataFrame, parsed_df: DataFrame | None, n: int, key: str
) -> DataFrame:
    """Add the earliest n requests of the alerted session as ``sample_requests``.

    Parsed rows are first cut down to the few alerted entities and their session's time span
    (broadcast join), so the per-entity ranking touches only their rows; an entity without rows
    gets an empty list. With n == 0 the parsed rows are not needed (``parsed_df`` may be None).
    """
    empty = F.array().cast("array<string>")
    if n <= 0:
        return alerts_df.withColumn("sample_requests", empty)
    spans = F.broadcast(
        alerts_df.select(
            "entity", F.col("session_start").alias("_from"), F.col("session_end").alias("_to")
        ).distinct()
    )
    rows = (
        with_entity(parsed_df, key)
        .join(spans, "entity")
        .where(F.col("ts").between(F.col("_from"), F.col("_to")))
        .drop("_from", "_to")
    )
    order = Window.partitionBy("entity").orderBy("ts", "request", "source_file")
    samples = (
        rows.withColumn("_rank", F.row_number().over(order))
        .where(F.col("_rank") <= n)
        .groupBy("entity")
        .agg(
            F.sort_array(F.collect_list(F.struct("_rank", _sample_line().alias("line")))).alias(
                "_s"
            )
        )
        .select("entity", F.transform("_s", lambda s: s["line"]).alias("sample_requests"))
    )
    return alerts_df.join(samples, "entity", "left").withColumn(
        "sample_requests", F.coalesce(F.col("sample_requests"), empty)
    )


# --- records (driver side: at most max_alerts rows) ----------------------------------------


def _finite(value: Any) -> float | None:
    """NaN/inf are not JSON; a feature without a value shows as null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _num(value: float | None) -> str:
    """Formatted as the mail and Slack lines format it, so the reason quotes the same number
    they show; "null" for a value the feature did not have (NaN and inf arrive as None)."""
    return fmt_num(value, none="null")


def reason(
    score: float, threshold: float, top_features: list[dict], spoofed: str | None = None
) -> str:
    """``score 98.7 >= 95: robots_txt=1 (median 0, p100), head_share=0.5 (median 0, p97)``,
    after ``spoofed crawler: <why>; `` when the session's crawler claim is false."""
    parts = [
        f"{f['feature']}={_num(f['value'])} (median {_num(f['population_median'])}"
        + (f", p{f['percentile']:.0f})" if f.get("percentile") is not None else ")")
        for f in top_features
    ]
    bar = ">=" if score >= threshold else "<"
    text = f"score {score:.1f} {bar} {_num(threshold)}: " + ", ".join(parts)
    return f"spoofed crawler: {spoofed}; {text}" if spoofed else text


def _top_features(rows: list[Any] | None) -> list[dict]:
    return [
        {
            "feature": row["feature"],
            "value": _finite(row["value"]),
            "population_median": _finite(row["population_median"]),
            "percentile": _finite(row["percentile"]),
            "share": _finite(row["share"]),
        }
        for row in rows or []
    ]


def _crawler_fields(row: Any) -> dict[str, Any]:
    """The crawler check of the session (``features.crawler_check``); null for features
    written before it existed."""
    fields = row.asDict()
    spoofed = fields.get("spoofed_crawler")
    return {
        "crawler_operator": fields.get("crawler_operator"),
        "spoofed_crawler": None if spoofed is None else bool(spoofed),
        "crawler_check": fields.get("crawler_check"),
    }


def _spoofed_reason(row: Any) -> str | None:
    fields = row.asDict()
    return fields.get("crawler_check") if fields.get("spoofed_crawler") == 1.0 else None


def _scoped(text: str, row: Any, condition: Condition | None) -> str:
    """The reason, then ``; in scope: <when> (name=value, ...)`` when the use case scopes."""
    return text if condition is None else f"{text}; {condition.explain(row.asDict())}"


def _iso(value: Any) -> str | None:
    return iso_utc(value) if isinstance(value, datetime) else value


def to_records(
    df: DataFrame,
    decisions: dict[str, Any],
    entity_key: str,
    severity,
    condition: Condition | None = None,
) -> list[dict]:
    """JSON-able alert dicts, highest score first (the order a person reads them in).

    ``decisions`` maps alert_id to an ``alert_lifecycle.Decision``; ``severity(score)`` labels;
    the reason ends with the use case's ``when:`` and the values that matched it.
    """
    records = []
    for row in df.orderBy(F.col("score").desc(), F.col("entity").asc()).collect():
        top = _top_features(row["top_features"])
        decision = decisions[row["alert_id"]]
        records.append(
            {
                "alert_id": row["alert_id"],
                "use_case": row["use_case"],
                "status": decision.status,
                "suppression": decision.reason,
                "severity": severity(float(row["score"])),
                "entity": row["entity"],
                "entity_key": entity_key,
                "client": row["client"],
                "user_agent": row["user_agent"],
                "score": float(row["score"]),
                "threshold": float(row["threshold"]),
                "interval_start": row["interval_start"],
                "interval_end": row["interval_end"],
                "session": row["session"],
                "session_start": _iso(row["session_start"]),
                "session_end": _iso(row["session_end"]),
                "sessions": int(row["sessions"]),
                "declared_crawler": bool(row["declared_crawler"]),
                "crawler_name": row["crawler_name"],
                **_crawler_fields(row),
                "model_version": row["model_version"],
                "model_kind": row["model_kind"],
                "requests": int(round(row["requests"])),
                "top_features": top,
                "sample_requests": list(row["sample_requests"] or []),
                "reason": _scoped(
                    reason(row["score"], row["threshold"], top, _spoofed_reason(row)),
                    row,
                    condition,
                ),
            }
        )
    return records
