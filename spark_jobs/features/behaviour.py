"""Per-session behaviour features of parsed access-log rows, as used in web-robot detection.

The features are the session features of the robot-detection literature (Tan & Kumar 2002;
Stassopoulou & Dikaiakos 2009; Doran & Gokhale 2011; Iliou et al. 2019): volume and pace,
timing regularity, breadth and depth of the crawl, HTTP method and status mix, kinds of
resources, robots.txt and sitemaps, referrers, night activity, and what follows what
(``features.sequence``: think times, assets after pages, referrers the session fetched, error
runs). ``feature_catalog`` names and defines them; every one is computed for every session,
always, so the features dataset has a fixed schema, and a use case's ``features`` list only
chooses which of them feed its model.

Cost (2.7M lines, 200k sessions: under a minute in local mode on 2 cores): the rows are
shuffled once, on the entity, for the session window; the per-session counts
(``sessions.with_*_counts``), the referrer look-up of ``sequence.with_referrer_fetched`` and
the aggregation keep that partitioning (three more sorts, no shuffle). What needs the whole
interval is reduced first and brought to the rows or sessions: the interval's most frequent
referrer host (one small job while planning, then a literal), the paths nobody was ever served
(counted while planning, broadcast to the rows before the shuffle) and the user agents per
client (joined onto the far fewer sessions).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.features.aggregates import T as _T
from spark_jobs.features.aggregates import feature_aggregates
from spark_jobs.features.catalog import FEATURE_NAMES
from spark_jobs.features.crawler_check import CHECK_COLUMNS, with_crawler_check
from spark_jobs.features.enrichment import with_path_fields
from spark_jobs.features.sequence import (
    referrer_path,
    with_referrer_fetched,
    with_time_sequence,
)
from spark_jobs.features.sessions import (
    attributed,
    with_agent_counts,
    with_entity,
    with_minute_requests,
    with_path_counts,
    with_sessions,
)

#: The columns before the features, in order.
SESSION_COLUMNS = (
    "entity", "session", "client", "user_agent", "session_start", "session_end",
    "declared_crawler", "crawler_name", *CHECK_COLUMNS,
)  # fmt: skip
#: The feature that describes the client rather than the session: joined onto the sessions.
_JOINED = "distinct_user_agents"
#: Features of the session's entity over the interval, computed after the per-session step.
_PER_ENTITY = ("entity_sessions", "entity_requests")

_REFERRER_HOST = r"^[a-z][a-z0-9+.-]*://(?:[^/?#@]*@)?(?:www\.)?([^/?#:]+)"
_VHOST = r"^(?:www\.)?([^/:]+)"
_NIGHT_END_HOUR = 6
#: Up to this many unknown paths (a few tens of MB) are broadcast to the rows.
_BROADCAST_PATHS = 500_000


def with_local_hour(df: DataFrame, tz: str) -> DataFrame:
    """Add ``local_hour`` (0-23) of ``ts`` in ``tz``.

    Computed from epoch seconds so that it does not depend on ``spark.sql.session.timeZone``:
    ``from_utc_timestamp`` shifts the instant by the zone's offset (DST-aware), and the hour of
    the shifted instant is then read in UTC arithmetic.
    """
    shifted = F.unix_timestamp(F.from_utc_timestamp(F.col("ts"), tz))
    return df.withColumn("local_hour", F.floor(F.pmod(shifted, F.lit(86400)) / 3600).cast("int"))


def _column(df: DataFrame, name: str, type_: str) -> Column:
    """``name``, or nulls when the input lacks it (tests and logs without that field)."""
    return F.col(name) if name in df.columns else F.lit(None).cast(type_)


def _referrer_host(referrer: Column) -> Column:
    """Lower-cased host of a referrer URL without ``www.`` and port; empty when not a URL."""
    return F.regexp_extract(F.lower(referrer), _REFERRER_HOST, 1)


def most_frequent_referrer_host(df: DataFrame) -> str | None:
    """The referrer host most requests of ``df`` carry (ties: the smallest), or None.

    Stands for the site's own host in logs without a vhost: a site's pages are what its
    visitors come from most. Collected once and inlined as a literal, it costs one small
    aggregation instead of a join of every row.
    """
    if "referrer" not in df.columns:
        return None
    hosts = df.select(_referrer_host(F.col("referrer")).alias("host")).where("host != ''")
    top = hosts.groupBy("host").count().orderBy(F.desc("count"), "host").first()
    return top["host"] if top else None


def _request_fields(df: DataFrame, tz: str, site_host: str | None) -> DataFrame:
    """The narrow per-request columns the features read; flags are computed before the
    shuffle, so referrers and vhosts do not travel."""
    df = with_path_fields(df)  # the enrichment's columns, derived when the input lacks them
    vhost = F.regexp_extract(F.lower(_column(df, "vhost", "string")), _VHOST, 1)
    site = F.coalesce(F.when(vhost != "", vhost), F.lit(site_host))
    referrer, ref_host = F.col("referrer"), _referrer_host(F.col("referrer"))
    same_site = (ref_host != "") & (ref_host == site)
    return with_local_hour(df, tz).select(
        "entity", "ts", "client", "user_agent", "method", "path", "query", "status", "path_class",
        "extension", _column(df, "protocol", "string").alias("protocol"),
        _column(df, "is_declared_crawler", "boolean").alias("is_declared_crawler"),
        _column(df, "crawler_name", "string").alias("crawler_name"),
        F.coalesce(F.col("bytes"), F.lit(0)).cast("double").alias(_T + "size"),
        (F.col("local_hour") < _NIGHT_END_HOUR).alias(_T + "night"),
        (referrer.isNull() | referrer.isin("", "-")).alias(_T + "no_referrer"),
        same_site.alias(_T + "same_site"),
        F.when(same_site, referrer_path(referrer)).alias(_T + "ref_path"),
    )  # fmt: skip


def unknown_paths(parsed_df: DataFrame) -> DataFrame:
    """``path`` of the paths answered 404 that no request of ``parsed_df`` got a 2xx or 3xx
    for: resources that do not exist, which scanners and stale crawlers ask for."""
    status = F.col("status")
    answered = F.col("path").isNotNull() & (status.between(200, 399) | (status == 404))
    served = F.bool_or(status != 404)
    return (
        parsed_df.where(answered)
        .groupBy("path")
        .agg(served.alias("served"))
        .where(~F.col("served"))
        .select("path")
    )


def _with_unknown_404(rows: DataFrame, parsed_df: DataFrame) -> DataFrame:
    """Add ``_bf_unknown_404``: a 404 for a path of ``unknown_paths`` (or without a path).

    The paths are joined before the rows are shuffled, broadcast when there are few enough
    (a job counts them), so the flag costs no shuffle of the rows; a site has far fewer
    missing paths than requests, unless a fuzzer hammers it, and then a sort-merge join is
    the safe plan."""
    unknown = unknown_paths(parsed_df).withColumn(_T + "unknown_path", F.lit(True))
    if unknown.count() <= _BROADCAST_PATHS:
        unknown = F.broadcast(unknown)
    flag = (F.col("status") == 404) & (
        F.col("path").isNull() | F.coalesce(F.col(_T + "unknown_path"), F.lit(False))
    )
    return (
        rows.join(unknown, "path", "left")
        .withColumn(_T + "unknown_404", flag)
        .drop(_T + "unknown_path")
    )


def _client_user_agents(parsed_df: DataFrame) -> DataFrame:
    """``client``, ``_bf_client_uas``: distinct user agents per client over all of
    ``parsed_df``, attributed or not (a missing UA counts as one)."""
    ua = F.coalesce(F.col("user_agent"), F.lit("-"))
    return (
        parsed_df.where(F.col("client").isNotNull())
        .groupBy("client")
        .agg(F.count_distinct(ua).alias(_T + "client_uas"))
    )


def session_features(
    parsed_df: DataFrame, key: str, tz: str, gap_minutes: float | None = 30.0
) -> DataFrame:
    """One row per session: ``SESSION_COLUMNS``, then every name of ``FEATURE_NAMES`` as a
    double, in that order.

    ``parsed_df`` holds rows of ``log_parsing.PARSED_SCHEMA`` with ``enrichment`` columns
    (``path_class`` and ``extension`` are derived when absent; without ``is_declared_crawler`` no session is a
    declared crawler). Rows without an entity are dropped: ``unattributed_rows`` counts them.
    ``user_agent`` is the session's most frequent UA (ties: the smallest); ``declared_crawler``
    (1.0/0.0) and ``crawler_name`` say whether that UA calls itself a crawler. They are weak
    labels, to explain and evaluate, not features; so are ``crawler_operator``,
    ``spoofed_crawler`` and ``crawler_check`` (``crawler_check``: is that claim true?).
    """
    aggregates = feature_aggregates()
    if sorted([*aggregates, _JOINED, *_PER_ENTITY]) != sorted(FEATURE_NAMES):
        raise RuntimeError("feature aggregates do not match feature_catalog.FEATURE_NAMES")
    entities = attributed(with_entity(parsed_df, key))
    rows = _request_fields(entities, tz, most_frequent_referrer_host(parsed_df))
    rows = _with_unknown_404(rows, parsed_df)
    sessions = with_sessions(rows, gap_minutes)
    # The session window's columns first, on its sort; then one sort per window.
    timed = with_time_sequence(with_minute_requests(sessions))
    described = with_path_counts(with_agent_counts(timed))
    described = with_referrer_fetched(described, _T + "ref_path")
    # The most frequent user agent, ties to the smallest; rows without one never win.
    agent = F.struct(
        "user_agent",
        F.coalesce("is_declared_crawler", F.lit(False)).alias("declared"),
        "crawler_name",
    )
    rank = F.when(F.col("user_agent").isNotNull(), F.struct(-F.col("agent_requests"), "user_agent"))
    per_session = described.groupBy("entity", "session").agg(
        F.min("client").alias("client"),
        F.min_by(agent, rank).alias(_T + "agent"),
        F.min("ts").alias("session_start"),
        F.max("ts").alias("session_end"),
        F.sum(F.col("first_of_agent").cast("int")).alias(_T + "uas"),
        *[expr.alias(name) for name, expr in aggregates.items()],
    )
    agent = F.col(_T + "agent")
    by_entity = Window.partitionBy("entity")
    client_uas = F.coalesce(F.col(_T + "client_uas"), F.col(_T + "uas"))
    return (
        per_session.join(_client_user_agents(parsed_df), "client", "left")
        .withColumn(_JOINED, client_uas)
        .withColumns(
            {
                "entity_sessions": F.count(F.lit(1)).over(by_entity),
                "entity_requests": F.sum("requests").over(by_entity),
            }
        )
        .select(
            "entity",
            "session",
            "client",
            agent["user_agent"].alias("user_agent"),
            "session_start",
            "session_end",
            F.when(agent["declared"], 1.0).otherwise(0.0).alias("declared_crawler"),
            agent["crawler_name"].alias("crawler_name"),
            *[F.col(name).cast("double").alias(name) for name in FEATURE_NAMES],
        )
        .transform(with_crawler_check)
        .select(*SESSION_COLUMNS, *FEATURE_NAMES)
    )
