"""Names and one-line definitions of every behaviour feature the feature stage computes.

Kept apart from the Spark code so that configs are validated at DAG-parse time (pydantic only)
and so docs/features.md and alert explanations read the same definitions. The order is the
column order of the features dataset.
"""

from __future__ import annotations

#: name -> one-line definition. ``behaviour_features`` checks it computes exactly these.
FEATURES: dict[str, str] = {
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

FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)
