"""Per-entity behaviour features of parsed access-log rows, as used in web-robot detection.

The features follow the session/client features of the robot-detection literature (Tan & Kumar
2002; Stassopoulou & Dikaiakos 2009; Doran & Gokhale 2011): volume, breadth of the crawl, HTTP
method and status mix, static-asset and image share, robots.txt, missing referrers, night
activity and request timing. Every feature is computed for every entity, always, so the
features dataset has a fixed schema; a use case's ``features`` list only chooses which of them
feed its model.

Everything is plain Spark SQL (no Python UDFs): one window for inter-request times and one
``groupBy`` for the rest, so the stage is a single shuffle on the entity.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.usecase_schema import KNOWN_FEATURES

#: One line per feature, for the README and for alert explanations.
FEATURE_DOCS: dict[str, str] = {
    "requests": "number of requests",
    "distinct_paths": "number of distinct URL paths requested",
    "distinct_path_ratio": "distinct_paths / requests (1.0 = never revisits a path)",
    "head_share": "share of HEAD requests",
    "post_share": "share of POST requests",
    "status_2xx_share": "share of responses with status 200-299",
    "status_3xx_share": "share of responses with status 300-399",
    "status_4xx_share": "share of responses with status 400-499",
    "status_5xx_share": "share of responses with status 500-599",
    "static_share": "share of requests for static assets (css, js, images, fonts, ico) by extension",
    "image_share": "share of requests for images (png, jpg, gif, svg, ico, webp, bmp, tiff)",
    "robots_txt": "1.0 if /robots.txt was fetched, else 0.0",
    "no_referrer_share": "share of requests without a referrer (null, empty or '-')",
    "night_share": "share of requests between 00:00 and 05:59 in the use case's time zone",
    "iat_mean": "mean seconds between consecutive requests (0 for a single request)",
    "iat_std": "population std. dev. of seconds between consecutive requests (0 if < 2 gaps)",
    "duration": "seconds from first to last request",
    "bytes_mean": "mean response size in bytes (missing sizes count as 0)",
    "bytes_max": "largest response size in bytes (missing sizes count as 0)",
    "distinct_user_agents": "number of distinct User-Agent strings (a missing one counts as one)",
}

if tuple(FEATURE_DOCS) != KNOWN_FEATURES:  # pragma: no cover - caught by the tests and at import
    raise ImportError(
        "behaviour_features.FEATURE_DOCS must list exactly usecase_schema.KNOWN_FEATURES"
    )

ENTITY_KEYS = ("client", "client_user_agent")

#: Extensions matched on the lower-cased path; the query string is not part of ``path``.
_IMAGE_EXT = r"\.(png|jpe?g|gif|svg|ico|webp|bmp|tiff?)$"
_STATIC_EXT = r"\.(css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|bmp|tiff?|woff2?|ttf|otf|eot)$"

_NIGHT_END_HOUR = 6


def with_entity(df: DataFrame, key: str) -> DataFrame:
    """Add ``entity``: what one scored row stands for (a client, or a client and its UA).

    ``client_user_agent`` separates NAT'd users and bots that share an address with humans; a
    missing UA becomes ``-`` so those requests still form an entity.
    """
    if key == "client":
        return df.withColumn("entity", F.col("client"))
    if key == "client_user_agent":
        ua = F.coalesce(F.col("user_agent"), F.lit("-"))
        return df.withColumn("entity", F.concat(F.col("client"), F.lit(" | "), ua))
    raise ValueError(f"unknown entity key {key!r}; known: {', '.join(ENTITY_KEYS)}")


def with_local_hour(df: DataFrame, tz: str) -> DataFrame:
    """Add ``local_hour`` (0-23) of ``ts`` in ``tz``.

    Computed from epoch seconds so that it does not depend on ``spark.sql.session.timeZone``:
    ``from_utc_timestamp`` shifts the instant by the zone's offset (DST-aware), and the hour of
    the shifted instant is then read in UTC arithmetic.
    """
    shifted = F.unix_timestamp(F.from_utc_timestamp(F.col("ts"), tz))
    return df.withColumn("local_hour", F.floor(F.pmod(shifted, F.lit(86400)) / 3600).cast("int"))


def with_inter_arrival(df: DataFrame) -> DataFrame:
    """Add ``iat``: seconds since the entity's previous request (null for its first request)."""
    by_time = Window.partitionBy("entity").orderBy("ts")
    micros = F.unix_micros(F.col("ts"))
    return df.withColumn("iat", (micros - F.lag(micros).over(by_time)) / F.lit(1_000_000.0))


def _share(condition: Column) -> Column:
    """Share of rows where ``condition`` holds; a null condition counts as false."""
    return F.avg(F.when(condition, 1.0).otherwise(0.0))


def _feature_aggregates() -> dict[str, Column]:
    """Aggregate expression of every feature, over rows prepared by ``entity_features``."""
    method = F.upper(F.col("method"))
    path = F.lower(F.col("path"))
    status_class = F.floor(F.col("status") / 100)
    referrer = F.col("referrer")
    size = F.coalesce(F.col("bytes"), F.lit(0)).cast("double")
    requests = F.count(F.lit(1))
    distinct_paths = F.countDistinct("path")
    first, last = F.min(F.unix_micros("ts")), F.max(F.unix_micros("ts"))
    return {
        "requests": requests,
        "distinct_paths": distinct_paths,
        "distinct_path_ratio": distinct_paths / requests,
        "head_share": _share(method == "HEAD"),
        "post_share": _share(method == "POST"),
        "status_2xx_share": _share(status_class == 2),
        "status_3xx_share": _share(status_class == 3),
        "status_4xx_share": _share(status_class == 4),
        "status_5xx_share": _share(status_class == 5),
        "static_share": _share(path.rlike(_STATIC_EXT)),
        "image_share": _share(path.rlike(_IMAGE_EXT)),
        "robots_txt": F.max(F.when(path == "/robots.txt", 1.0).otherwise(0.0)),
        "no_referrer_share": _share(referrer.isNull() | referrer.isin("", "-")),
        "night_share": _share(F.col("local_hour") < _NIGHT_END_HOUR),
        "iat_mean": F.coalesce(F.avg("iat"), F.lit(0.0)),
        "iat_std": F.coalesce(F.stddev_pop("iat"), F.lit(0.0)),
        "duration": (last - first) / F.lit(1_000_000.0),
        "bytes_mean": F.avg(size),
        "bytes_max": F.max(size),
        "distinct_user_agents": F.countDistinct(F.coalesce(F.col("user_agent"), F.lit("-"))),
    }


def entity_features(parsed_df: DataFrame, key: str, tz: str) -> DataFrame:
    """One row per entity: ``entity``, ``client``, ``user_agent`` (its most frequent UA, ties
    to the smallest), then every name of KNOWN_FEATURES as a double, in that order."""
    aggregates = _feature_aggregates()
    if tuple(aggregates) != KNOWN_FEATURES:  # pragma: no cover - guarded by the tests
        raise RuntimeError("feature aggregates do not match usecase_schema.KNOWN_FEATURES")
    rows = with_inter_arrival(with_local_hour(with_entity(parsed_df, key), tz))
    return rows.groupBy("entity").agg(
        F.min("client").alias("client"),
        F.mode("user_agent", deterministic=True).alias("user_agent"),
        *[expr.cast("double").alias(name) for name, expr in aggregates.items()],
    )
