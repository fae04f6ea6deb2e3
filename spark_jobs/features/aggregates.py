"""The aggregate expression of each per-session feature: what ``features.catalog`` defines.

Kept apart from the plumbing of ``features.behaviour`` (which rows, which shuffles), so each
definition can be read next to its catalogue line. The expressions read the narrow request rows
``behaviour`` builds: the parsed and enrichment columns, the ``sessions.with_*_counts`` columns
and the ``T``-prefixed helper flags.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from spark_jobs.features import paths

#: Prefix of the helper columns ``behaviour`` adds for these expressions.
T = "_bf_"


def _share(condition: Column) -> Column:
    """Share of rows where ``condition`` holds; a null condition counts as false."""
    return F.avg(F.when(condition, 1.0).otherwise(0.0))


def _any(condition: Column) -> Column:
    return F.max(F.when(condition, 1.0).otherwise(0.0))


def _volume_and_breadth() -> dict[str, Column]:
    """Volume, timing and breadth of the crawl (the first two groups of the catalogue)."""
    requests = F.count(F.lit(1))
    micros = F.unix_micros(F.col("ts"))
    duration = (F.max(micros) - F.min(micros)) / F.lit(1_000_000.0)
    iat_mean = F.coalesce(F.avg("iat"), F.lit(0.0))
    iat_std = F.coalesce(F.stddev_pop("iat"), F.lit(0.0))
    distinct_paths = F.sum(F.col("first_of_path").cast("int"))
    depth = F.col("path_depth")
    return {
        "requests": requests,
        "duration": duration,
        "requests_per_minute": requests * 60.0 / F.greatest(duration, F.lit(60.0)),
        "max_requests_per_minute": F.max("minute_requests"),
        "iat_mean": iat_mean,
        "iat_std": iat_std,
        "iat_cv": F.when(iat_mean > 0, iat_std / iat_mean).otherwise(0.0),
        "burstiness": F.when(
            iat_std + iat_mean > 0, (iat_std - iat_mean) / (iat_std + iat_mean)
        ).otherwise(0.0),
        "night_share": _share(F.col(T + "night")),
        "distinct_paths": distinct_paths,
        "distinct_path_ratio": distinct_paths / requests,
        "repeated_request_share": 1.0 - F.sum(F.col("first_request").cast("int")) / requests,
        # sum over paths of -p log2 p, with p = n_path / requests, is this, summed over rows.
        "path_entropy": F.greatest(
            F.log2(requests) - F.avg(F.log2(F.col("path_requests"))), F.lit(0.0)
        ),
        "path_depth_max": F.coalesce(F.max(depth), F.lit(0)),
        "path_depth_mean": F.coalesce(F.avg(depth), F.lit(0.0)),
        "traversal_width": F.max("depth_width"),
        "query_share": _share(F.col("query").isNotNull() & (F.col("query") != "")),
    }


def _methods_and_status() -> dict[str, Column]:
    method, path = F.upper(F.col("method")), F.lower(F.col("path"))
    status = F.col("status")
    status_class = F.floor(status / 100)
    return {
        "get_share": _share(method == "GET"),
        "head_share": _share(method == "HEAD"),
        "post_share": _share(method == "POST"),
        "login_post_share": _share((method == "POST") & path.rlike(paths.LOGIN_PATH)),
        "http10_share": _share(F.upper(F.col("protocol")).isin("HTTP/1.0", "HTTP/0.9")),
        "status_2xx_share": _share(status_class == 2),
        "status_3xx_share": _share(status_class == 3),
        "status_4xx_share": _share(status_class == 4),
        "status_5xx_share": _share(status_class == 5),
        "status_404_share": _share(status == 404),
        "auth_failure_share": _share(status.isin(401, 403)),
        "unknown_resource_404_share": _share(F.col(T + "unknown_404")),
    }


def _resources_and_more() -> dict[str, Column]:
    """Resources from the enrichment's ``path_class`` and ``extension`` (``features.paths``): a
    request counts in ``static_share`` exactly when its ``path_class`` is ``static``, and in an
    image, css or js share only if it is static too."""
    path, path_class = F.lower(F.col("path")), F.col("path_class")
    static, extension = path_class == "static", F.col("extension")
    return {
        "page_share": _share(path_class == "page"),
        "static_share": _share(static),
        "image_share": _share(static & extension.isin(*paths.IMAGE_EXTENSIONS)),
        "css_share": _share(static & extension.isin(*paths.STYLE_EXTENSIONS)),
        "js_share": _share(static & extension.isin(*paths.JS_EXTENSIONS)),
        "api_share": _share(path_class == "api"),
        "sensitive_share": _share(path_class == "sensitive"),
        "robots_txt": _any(path == "/robots.txt"),
        "sitemap_fetched": _any(path.contains("sitemap") & path.rlike(r"\.xml(\.gz)?$")),
        "no_referrer_share": _share(F.col(T + "no_referrer")),
        "same_site_referrer_share": _share(F.col(T + "same_site")),
        "bytes_mean": F.avg(T + "size"),
        "bytes_max": F.max(T + "size"),
    }


def _sequence() -> dict[str, Column]:
    """The order of the requests, from the per-row columns of ``features.sequence``."""
    referred = F.sum(F.col(T + "ref_path").isNotNull().cast("int"))
    return {
        # An exact median costs no sort: the aggregation is sort-based already (min_by of a
        # struct), so a buffering aggregate does not change its plan.
        "page_think_time_median": F.coalesce(F.median("page_think"), F.lit(0.0)),
        "assets_after_page_share": F.coalesce(F.avg("assets_followed"), F.lit(0.0)),
        "referrer_fetched_share": F.when(
            referred > 0, F.max("referrer_fetched") / referred
        ).otherwise(0.0),
        "error_burst_max": F.coalesce(F.max("error_run"), F.lit(0)),
    }


def feature_aggregates() -> dict[str, Column]:
    """Aggregate expression of every feature but ``_JOINED``, over rows of ``behaviour._request_fields``
    with the columns of ``sessions.with_sessions``, its ``with_*_counts`` and ``features.sequence``."""
    return {
        **_volume_and_breadth(),
        **_methods_and_status(),
        **_resources_and_more(),
        **_sequence(),
    }
