"""Names and one-line definitions of every behaviour feature the feature stage computes.

Kept apart from the Spark code so that configs are validated at DAG-parse time (pydantic only)
and so docs/features.md and alert explanations read the same definitions. The order is the
column order of the features dataset, grouped as ``FEATURE_GROUPS`` lists them.

Every feature describes one session (see ``spark_jobs.features.sessions``), except
``distinct_user_agents``, which describes the session's client over the whole interval.
"""

from __future__ import annotations

#: group title -> {name: one-line definition}. ``behaviour_features`` checks it computes exactly
#: these, in this order.
FEATURE_GROUPS: dict[str, dict[str, str]] = {
    "Volume and timing": {
        "requests": "number of requests",
        "duration": "seconds from the first to the last request",
        "requests_per_minute": "requests * 60 / max(duration, 60): sessions shorter than a "
        "minute count as one minute",
        "max_requests_per_minute": "most requests in any one clock minute (hh:mm:00 to "
        "hh:mm:59) of the session",
        "iat_mean": "mean seconds between consecutive requests (0 for a single request)",
        "iat_std": "population std. dev. of seconds between consecutive requests (0 if < 2 gaps)",
        "iat_cv": "iat_std / iat_mean, the coefficient of variation of the gaps (0 when "
        "iat_mean is 0)",
        "burstiness": "(iat_std - iat_mean) / (iat_std + iat_mean) (Goh & Barabasi 2008): -1 "
        "periodic, 0 random (Poisson), towards 1 bursty; 0 when both are 0",
        "night_share": "share of requests between 00:00 and 05:59 in the use case's time zone",
    },
    "Breadth of the crawl": {
        "distinct_paths": "number of distinct URL paths requested (query excluded; a request "
        "without a path is not counted)",
        "distinct_path_ratio": "distinct_paths / requests (1.0 = never revisits a path)",
        "repeated_request_share": "1 - distinct (method, path, query) / requests: share of "
        "requests that repeat an earlier one exactly",
        "path_entropy": "Shannon entropy in bits of the distribution of requests over paths "
        "(a missing path is one more value): 0 = one path, log2(requests) = all different",
        "path_depth_max": "largest path depth, the number of non-empty '/'-separated segments "
        "(/ = 0, /a/b/ = 2)",
        "path_depth_mean": "mean path depth over the requests that have a path (0 if none)",
        "traversal_width": "largest number of distinct paths requested at one same path depth "
        "(how wide, rather than deep, the session crawls)",
        "query_share": "share of requests with a query string",
    },
    "HTTP methods and protocol": {
        "get_share": "share of GET requests",
        "head_share": "share of HEAD requests",
        "post_share": "share of POST requests",
        "login_post_share": "share of requests that POST to a login-like path (a segment "
        "login, signin, logon, auth, session(s), wp-login, xmlrpc, administrator, with or "
        "without an extension or a trailing /index.php): credential stuffing, brute force",
        "http10_share": "share of requests sent as HTTP/1.0 or HTTP/0.9 (the request line's "
        "protocol; old scripts and libraries; a request without one counts as not)",
    },
    "Response status": {
        "status_2xx_share": "share of responses with status 200-299",
        "status_3xx_share": "share of responses with status 300-399",
        "status_4xx_share": "share of responses with status 400-499",
        "status_5xx_share": "share of responses with status 500-599",
        "status_404_share": "share of responses with status 404",
        "auth_failure_share": "share of responses with status 401 or 403 (refused "
        "credentials or access)",
        "unknown_resource_404_share": "share of requests answered 404 for a path that no "
        "request of the interval, by anyone, got a 2xx or 3xx for (a missing path counts)",
    },
    "Resources": {
        "page_share": "share of requests for pages (enrichment path_class page: '/', "
        ".html, .php, documents, extension-less paths)",
        "static_share": "share of requests for static assets (enrichment path_class static: css, "
        "js, images, fonts, audio, video)",
        "image_share": "share of requests for images (png, jpg, gif, svg, ico, webp, bmp, tiff)",
        "css_share": "share of requests for style sheets (.css)",
        "js_share": "share of requests for scripts (.js, .mjs)",
        "api_share": "share of requests for API endpoints (path_class api: /api/, /graphql, "
        "/wp-json, .json ...)",
        "sensitive_share": "share of requests for sensitive paths (path_class sensitive: "
        "admin and login pages, wp-*, dot files such as .env and .git, backups)",
        "robots_txt": "1.0 if /robots.txt was fetched, else 0.0",
        "sitemap_fetched": "1.0 if a sitemap was fetched (a path containing 'sitemap' and "
        "ending in .xml or .xml.gz, sitemap indexes included), else 0.0",
    },
    "Referrers": {
        "no_referrer_share": "share of requests without a referrer (null, empty or '-')",
        "same_site_referrer_share": "share of requests whose referrer host is the site: the "
        "request's vhost when logged, else the interval's most frequent referrer host "
        "(case, a leading www. and the port ignored)",
    },
    "Sequence": {
        "page_think_time_median": "median seconds between consecutive page views (path_class "
        "page) of the session, exact (the mean of the two middle gaps when their number is "
        "even); 0 with fewer than 2 page views: people read for tens of seconds, crawlers are "
        "regular or sub-second",
        "assets_after_page_share": "share of the session's page views followed within 10 s "
        "(the same instant included) by at least one static request (path_class static) of "
        "the session: browsers load a page's css, js and images, most bots do not; 0 without "
        "page views",
        "referrer_fetched_share": "of the requests with a same-site referrer (as in "
        "same_site_referrer_share), the share whose referrer's path (after scheme://host, "
        "before ? or #; / when empty) another request of the session asked for earlier or at "
        "the same instant; 0 when none has a same-site referrer",
        "error_burst_max": "longest run of consecutive requests (by time; requests of one "
        "instant by status) answered with a status >= 400, 0 if none: scanners produce long "
        "runs of 404s",
    },
    "Response size": {
        "bytes_mean": "mean response size in bytes (missing sizes count as 0)",
        "bytes_max": "largest response size in bytes (missing sizes count as 0)",
    },
    "Client and entity": {
        "distinct_user_agents": "number of distinct User-Agent strings the session's client "
        "sent in the whole interval, all its sessions together (a missing one counts as one; "
        "for a session without a client, its own)",
        "entity_sessions": "number of sessions the session's entity has in the interval "
        "(crawlers come back in many short visits; people in a few)",
        "entity_requests": "number of requests the session's entity made in the interval, all "
        "its sessions together",
    },
}

#: name -> one-line definition, in column order.
FEATURES: dict[str, str] = {
    name: text for group in FEATURE_GROUPS.values() for name, text in group.items()
}

FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)

#: The raw features whose scale is the site's: each gets a ``<name>_pct`` twin, the session's
#: percentile among the interval's sessions (``features.relative`` computes them).
RELATIVE_BASES: tuple[str, ...] = (
    "requests", "duration", "requests_per_minute", "max_requests_per_minute", "iat_mean",
    "iat_std", "distinct_paths", "path_depth_max", "path_depth_mean", "traversal_width",
    "page_share", "static_share", "image_share", "bytes_mean", "bytes_max", "entity_sessions",
    "entity_requests", "distinct_user_agents",
)  # fmt: skip
RELATIVE_SUFFIX = "_pct"
RELATIVE_GROUP = "Site-relative (percentile within the interval)"
RELATIVE_FEATURES: dict[str, str] = {
    base + RELATIVE_SUFFIX: f"percentile (0-1, ties share their mid-rank) of `{base}` among "
    "the sessions of the same interval: large or small for this site, whatever its scale"
    for base in RELATIVE_BASES
}
#: Every column of the features dataset a config may name: the raw ones, then their twins.
ALL_FEATURE_NAMES: tuple[str, ...] = (*FEATURE_NAMES, *RELATIVE_FEATURES)


def markdown_table() -> str:
    """The feature table of docs/features.md (a test checks the page holds exactly this)."""
    lines = ["| group | feature | definition |", "|---|---|---|"]
    for group, features in {**FEATURE_GROUPS, RELATIVE_GROUP: RELATIVE_FEATURES}.items():
        for name, text in features.items():
            escaped = text.replace("|", r"\|")
            lines.append(f"| {group} | `{name}` | {escaped} |")
    return "\n".join(lines) + "\n"
