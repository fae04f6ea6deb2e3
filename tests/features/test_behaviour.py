"""Each behaviour feature on a few hand-made log rows, with expected values worked out by hand.

Every scenario below is one small log; ``EXPECTED_*`` maps a session to the features it
checks. Together they check every name of the catalogue (``test_every_feature_is_checked``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import functions as F

from spark_jobs.features import behaviour as bf
from spark_jobs.features.catalog import FEATURE_NAMES, FEATURES, markdown_table
from tests.support.paths import REPO

SCHEMA = (
    "ts timestamp, client string, method string, path string, query string, status int, "
    "bytes long, referrer string, user_agent string, vhost string, session_id string, "
    "is_declared_crawler boolean, crawler_name string, protocol string"
)
MOZ, CURL = "Mozilla/5.0", "curl/8.0"
T0 = datetime(2015, 5, 17, 1, 0, 0, tzinfo=UTC)


def row(sec: float, client: str = "1.1.1.1", path: str | None = "/", **kw) -> tuple:
    """One request ``sec`` seconds after 01:00:00 UTC; keywords name the other columns."""
    method = kw.get("method", "GET" if path else None)
    return (
        T0 + timedelta(seconds=sec), client, method, path, kw.get("query"),
        kw.get("status", 200), kw.get("size", 10), kw.get("referrer"), kw.get("ua", MOZ),
        kw.get("vhost"), kw.get("session_id"), kw.get("declared", False), kw.get("crawler"),
        kw.get("protocol", "HTTP/1.1"),
    )  # fmt: skip


def features(spark, rows, key="client", tz="UTC", gap=30.0) -> dict[str, dict]:
    """session -> its output row as a dict."""
    out = bf.session_features(spark.createDataFrame(rows, SCHEMA), key, tz, gap).collect()
    return {r["session"]: r.asDict() for r in out}


def check(actual: dict[str, dict], expected: dict[str, dict]) -> None:
    for session, values in expected.items():
        got = {name: actual[session][name] for name in values}
        assert got == pytest.approx(values, abs=1e-12), session


# --- volume and timing --------------------------------------------------------------------

TIMING_ROWS = [
    # 1.1.1.1: gaps 10, 30, 40, 40 s; three requests in the clock minute 01:00.
    *[row(s) for s in (0, 10, 40, 80, 120)],
    # ... and 43 minutes later (more than the 30-minute gap) a second session of one request.
    row(45 * 60),
    # 2.2.2.2: a metronome, one request every 10 s.
    *[row(s, "2.2.2.2") for s in (0, 10, 20)],
]
STD = math.sqrt((20**2 + 0 + 10**2 + 10**2) / 4)  # population std of 10, 30, 40, 40 (mean 30)
EXPECTED_TIMING = {
    "1.1.1.1#2015-05-17T01:00:00Z": {
        "requests": 5.0, "duration": 120.0, "requests_per_minute": 5 * 60 / 120,
        "max_requests_per_minute": 3.0, "iat_mean": 30.0, "iat_std": STD, "iat_cv": STD / 30,
        "burstiness": (STD - 30) / (STD + 30), "night_share": 1.0,
    },
    "1.1.1.1#2015-05-17T01:45:00Z": {
        "requests": 1.0, "duration": 0.0, "requests_per_minute": 1.0,
        "max_requests_per_minute": 1.0, "iat_mean": 0.0, "iat_std": 0.0, "iat_cv": 0.0,
        "burstiness": 0.0,
    },
    "2.2.2.2#2015-05-17T01:00:00Z": {
        "requests": 3.0, "duration": 20.0, "requests_per_minute": 3.0,
        "max_requests_per_minute": 3.0, "iat_mean": 10.0, "iat_std": 0.0, "iat_cv": 0.0,
        "burstiness": -1.0,
    },
}  # fmt: skip


def test_volume_and_timing(spark):
    check(features(spark, TIMING_ROWS), EXPECTED_TIMING)


def test_night_share_uses_the_use_case_time_zone_not_the_spark_one(spark):
    # New York is UTC-4 in May: 01:00 UTC is 21:00 (day), 07:00 UTC is 03:00 (night).
    rows = [row(0), row(10), row(6 * 3600), row(6 * 3600 + 10), row(6 * 3600 + 20)]
    previous = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "Asia/Kolkata")
    try:
        actual = features(spark, rows, tz="America/New_York", gap=None)
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    assert actual["1.1.1.1"]["night_share"] == pytest.approx(3 / 5)


# --- breadth of the crawl and methods ---------------------------------------------------

BREADTH_ROWS = [
    row(0, "3.3.3.3", "/a"),
    row(1, "3.3.3.3", "/a"),  # the same request again
    row(2, "3.3.3.3", "/a", query="x=1"),
    row(3, "3.3.3.3", "/a", method="HEAD"),
    row(4, "3.3.3.3", "/b/c"),
    row(5, "3.3.3.3", "/b/d/"),
    row(6, "3.3.3.3", "/b/e.html"),
    row(7, "3.3.3.3", "/f/g/h"),
    row(8, "3.3.3.3", None, status=400),  # an unparseable request line: no method, no path
]
EXPECTED_BREADTH = {
    "3.3.3.3#2015-05-17T01:00:00Z": {
        # Paths /a x4, four single ones, and the missing one.
        "distinct_paths": 5.0, "distinct_path_ratio": 5 / 9,
        # 8 distinct (method, path, query): only the second GET /a repeats.
        "repeated_request_share": 1 / 9,
        "path_entropy": -(4 / 9) * math.log2(4 / 9) - 5 * (1 / 9) * math.log2(1 / 9),
        # Depths 1, 1, 1, 1, 2, 2, 2, 3 (no path: none); three paths at depth 2.
        "path_depth_max": 3.0, "path_depth_mean": 13 / 8, "traversal_width": 3.0,
        "query_share": 1 / 9, "get_share": 7 / 9, "head_share": 1 / 9, "post_share": 0.0,
    },
}  # fmt: skip


def test_breadth_of_the_crawl_and_methods(spark):
    check(features(spark, BREADTH_ROWS), EXPECTED_BREADTH)


def test_a_session_of_one_path_has_no_entropy_nor_depth(spark):
    actual = features(spark, [row(0, path="/"), row(1, path="/")])
    values = actual["1.1.1.1#2015-05-17T01:00:00Z"]
    assert (values["path_entropy"], values["path_depth_max"], values["traversal_width"]) == (
        0.0,
        0.0,
        1.0,
    )


# --- response status ----------------------------------------------------------------------

STATUS_ROWS = [
    row(0, "4.4.4.4", "/ok"),
    row(1, "4.4.4.4", "/moved", status=301),
    row(2, "4.4.4.4", "/gone.html", status=404),  # someone else got it: a known resource
    row(3, "4.4.4.4", "/wp-login.php", status=404),
    row(4, "4.4.4.4", "/nothing", status=404),
    row(5, "4.4.4.4", "/form", method="POST", status=500),
    row(6, "4.4.4.4", None, status=404),  # no path: not a known resource either
    row(7, "4.4.4.4", "/forbidden", status=403),
    row(0, "9.9.9.9", "/gone.html", status=200),
    row(1, "9.9.9.9", "/nothing", status=404),
]
EXPECTED_STATUS = {
    "4.4.4.4#2015-05-17T01:00:00Z": {
        "status_2xx_share": 1 / 8, "status_3xx_share": 1 / 8, "status_4xx_share": 5 / 8,
        "status_5xx_share": 1 / 8, "status_404_share": 4 / 8,
        "unknown_resource_404_share": 3 / 8, "post_share": 1 / 8,
    },
    "9.9.9.9#2015-05-17T01:00:00Z": {"status_404_share": 0.5, "unknown_resource_404_share": 0.5},
}  # fmt: skip
EXPECTED_STATUS["4.4.4.4#2015-05-17T01:00:00Z"]["auth_failure_share"] = 1 / 8


def test_response_status(spark):
    check(features(spark, STATUS_ROWS), EXPECTED_STATUS)


# --- login abuse --------------------------------------------------------------------------

LOGIN_ROWS = [
    row(0, "6.6.6.6", "/wp-login.php", method="POST", status=401),
    row(1, "6.6.6.6", "/user/LOGIN/", method="POST", status=403),
    row(2, "6.6.6.6", "/login", method="GET"),  # the form itself: not a login attempt
    row(3, "6.6.6.6", "/blog/login-tips", method="POST"),  # not a login path
    row(4, "6.6.6.6", "/xmlrpc.php", method="POST", status=403),
    row(5, "6.6.6.6", "//administrator/index.php", method="POST"),  # Joomla's back end
]


EXPECTED_LOGIN = {
    "6.6.6.6#2015-05-17T01:00:00Z": {"login_post_share": 4 / 6, "auth_failure_share": 3 / 6},
}


def test_login_posts_and_refused_credentials(spark):
    check(features(spark, LOGIN_ROWS), EXPECTED_LOGIN)


# --- sequence and protocol ---------------------------------------------------------------

SHOP = "http://shop.example"
SEQUENCE_ROWS = [
    # 7.7.7.7 browses: a page, its css and js, a page 30 s later with an image, then a page
    # 60 s later whose referrer names a page it never fetched.
    row(0, "7.7.7.7", "/"),
    row(1, "7.7.7.7", "/style.css", referrer=f"{SHOP}/"),
    row(2, "7.7.7.7", "/app.js", referrer=f"{SHOP}/?utm=x"),
    row(30, "7.7.7.7", "/about", referrer=f"{SHOP}/"),
    row(31, "7.7.7.7", "/img.png", referrer=f"{SHOP}/about#top"),
    row(90, "7.7.7.7", "/contact", referrer=f"{SHOP}/never"),
    # 8.8.8.8 scans over HTTP/1.0, one page a second: 404, 404, 200, then three 404s.
    *[
        row(s, "8.8.8.8", f"/p{s}.php", status=st)
        for s, st in enumerate([404, 404, 200, 404, 404, 404])
    ],
]
EXPECTED_SEQUENCE = {
    "7.7.7.7#2015-05-17T01:00:00Z": {
        "page_think_time_median": 45.0,  # page gaps 30 and 60 s
        "assets_after_page_share": 2 / 3,  # / and /about are followed by assets, /contact not
        "referrer_fetched_share": 4 / 5,  # five same-site referrers, /never was not fetched
        "error_burst_max": 0.0,
        "http10_share": 0.0,
    },
    "8.8.8.8#2015-05-17T01:00:00Z": {
        "page_think_time_median": 1.0,
        "assets_after_page_share": 0.0,
        "referrer_fetched_share": 0.0,
        "error_burst_max": 3.0,
        "http10_share": 1.0,
    },
}


def test_the_order_of_requests_think_time_assets_referrers_and_error_bursts(spark):
    df = spark.createDataFrame(SEQUENCE_ROWS, SCHEMA).withColumn(
        "protocol", F.when(F.col("client") == "8.8.8.8", "HTTP/1.0").otherwise("HTTP/1.1")
    )
    out = bf.session_features(df, "client", "UTC", 30.0).collect()
    check({r["session"]: r.asDict() for r in out}, EXPECTED_SEQUENCE)


SITE = "shop.example"
EDGE_ROWS = [
    # Pages at 0, 30 and 90 s; the style sheet at the page's own instant; an image exactly
    # 10 s after the second page; the image at 120 s comes 30 s after the last page.
    row(0, "11.1.1.1", "/", vhost=SITE),
    row(0, "11.1.1.1", "/style.css", referrer=f"http://{SITE}/", vhost=SITE),
    row(1, "11.1.1.1", "/app.js", referrer=f"http://{SITE}", vhost=SITE),
    row(30, "11.1.1.1", "/about.html", referrer=f"https://www.{SITE}/?utm=1", vhost=SITE),
    row(40, "11.1.1.1", "/img/a.png", referrer=f"http://{SITE}/about.html", vhost=SITE),
    row(90, "11.1.1.1", "/contact", referrer=f"http://{SITE}/never.html", vhost=SITE),
    # Its referrer is itself, which no other request fetched; another site's does not count.
    row(120, "11.1.1.1", "/x.png", referrer=f"http://{SITE}/x.png", vhost=SITE),
    row(121, "11.1.1.1", "/y.png", referrer="http://other.example/", vhost=SITE),
    # An old library: 1.0 and 0.9 (any case) count, 1.1 and a missing protocol do not.
    row(0, "11.1.1.2", "/wp-login.php", status=404, protocol="HTTP/1.0"),
    row(1, "11.1.1.2", "/admin", status=404, protocol="HTTP/1.0"),
    row(2, "11.1.1.2", "/.env", status=404, protocol="HTTP/1.0"),
    row(3, "11.1.1.2", "/", status=200, protocol="HTTP/1.0"),
    row(4, "11.1.1.2", "/x", status=404),
    row(5, "11.1.1.2", "/y", status=403, protocol=None),
    row(6, "11.1.1.2", "/z", status=200, protocol="http/0.9"),
    # One page and its style sheet; a lone image.
    row(0, "11.1.1.3", "/"),
    row(3, "11.1.1.3", "/main.css"),
    row(0, "11.1.1.4", "/logo.png"),
]
EXPECTED_EDGES = {
    "11.1.1.1#2015-05-17T01:00:00Z": {
        "page_think_time_median": (30 + 60) / 2, "assets_after_page_share": 2 / 3,
        # Six same-site referrers: /, /, / and /about.html had been fetched by then.
        "referrer_fetched_share": 4 / 6, "same_site_referrer_share": 6 / 8,
        "error_burst_max": 0.0, "http10_share": 0.0,
    },
    "11.1.1.2#2015-05-17T01:00:00Z": {"error_burst_max": 3.0, "http10_share": 5 / 7},
    "11.1.1.3#2015-05-17T01:00:00Z": {
        "page_think_time_median": 0.0, "assets_after_page_share": 1.0,
        "referrer_fetched_share": 0.0,
    },
    "11.1.1.4#2015-05-17T01:00:00Z": {
        "page_think_time_median": 0.0, "assets_after_page_share": 0.0,
    },
}  # fmt: skip


def test_sequence_edge_cases(spark):
    check(features(spark, EDGE_ROWS), EXPECTED_EDGES)


def test_without_a_protocol_column_no_request_is_http10(spark):
    df = spark.createDataFrame(EDGE_ROWS, SCHEMA).drop("protocol")
    out = bf.session_features(df, "client", "UTC", 30.0)
    assert {r["http10_share"] for r in out.collect()} == {0.0}


# --- resources ------------------------------------------------------------------------------

RESOURCE_PATHS = [
    "/", "/index.html", "/robots.txt", "/sitemap_index.xml",  # pages
    "/style.css", "/app.js", "/lib.MJS", "/img/logo.PNG", "/font.woff2",  # static
    "/api/v1/items", "/wp-admin/", "/.git/config",  # api, sensitive x2
]  # fmt: skip
RESOURCE_ROWS = [
    *[row(i, "5.5.5.5", p) for i, p in enumerate(RESOURCE_PATHS)],
    row(0, "5.5.5.6", "/sitemaps/posts.xml.gz"),
    row(0, "5.5.5.7", "/sitemap.html"),
    row(1, "5.5.5.7", "/robots.txt.bak"),
]
EXPECTED_RESOURCES = {
    "5.5.5.5#2015-05-17T01:00:00Z": {
        "page_share": 4 / 12, "static_share": 5 / 12, "image_share": 1 / 12, "css_share": 1 / 12,
        "js_share": 2 / 12, "api_share": 1 / 12, "sensitive_share": 2 / 12, "robots_txt": 1.0,
        "sitemap_fetched": 1.0,
    },
    "5.5.5.6#2015-05-17T01:00:00Z": {"sitemap_fetched": 1.0, "robots_txt": 0.0},
    "5.5.5.7#2015-05-17T01:00:00Z": {
        "sitemap_fetched": 0.0, "robots_txt": 0.0, "sensitive_share": 0.5,
    },
}  # fmt: skip


def test_resources(spark):
    check(features(spark, RESOURCE_ROWS), EXPECTED_RESOURCES)


def test_enrichment_path_class_is_used_when_present(spark):
    df = spark.createDataFrame([row(0, path="/x")], SCHEMA).withColumn("path_class", F.lit("api"))
    values = bf.session_features(df, "client", "UTC", 30.0).first()
    assert (values["api_share"], values["page_share"]) == (1.0, 0.0)


# --- referrers and sizes --------------------------------------------------------------------

REFERRER_ROWS = [
    # No vhost: the site is the most frequent referrer host of the log, shop.example.
    row(0, "6.6.6.6", referrer="http://www.shop.example/", size=100),
    row(1, "6.6.6.6", referrer="https://shop.example:443/a", size=None),
    row(2, "6.6.6.6", referrer="http://SHOP.example/b?c", size=300),
    row(3, "6.6.6.6", referrer="https://other.example/x", size=0),
    row(4, "6.6.6.6", referrer="-", size=1000),
    row(5, "6.6.6.6", referrer=None, size=200),
    row(6, "6.6.6.6", referrer="", size=0),
    row(7, "6.6.6.6", referrer="android-app://com.google.app", size=0),
    # With a vhost, the vhost is the site, not the log's most frequent referrer host.
    row(0, "7.7.7.7", referrer="http://blog.example/x", vhost="www.blog.example"),
    row(1, "7.7.7.7", referrer="http://shop.example/", vhost="blog.example"),
]
EXPECTED_REFERRERS = {
    "6.6.6.6#2015-05-17T01:00:00Z": {
        "no_referrer_share": 3 / 8, "same_site_referrer_share": 3 / 8,
        "bytes_mean": 1600 / 8, "bytes_max": 1000.0,
    },
    "7.7.7.7#2015-05-17T01:00:00Z": {"no_referrer_share": 0.0, "same_site_referrer_share": 0.5},
}  # fmt: skip


def test_referrers_and_sizes(spark):
    check(features(spark, REFERRER_ROWS), EXPECTED_REFERRERS)


def test_most_frequent_referrer_host(spark):
    df = spark.createDataFrame(REFERRER_ROWS, SCHEMA)
    assert bf.most_frequent_referrer_host(df) == "shop.example"
    assert bf.most_frequent_referrer_host(df.where("referrer is null")) is None


# --- the client's user agents and the session columns -------------------------------------

AGENT_ROWS = [
    row(0, "8.8.8.8", ua=MOZ),
    row(5 * 3600, "8.8.8.8", ua=CURL),
    row(5 * 3600 + 1, "8.8.8.8", ua=None),
    row(0, "10.0.0.1", ua="Googlebot/2.1", declared=True, crawler="Googlebot"),
    row(1, "10.0.0.1", ua=MOZ),
    row(2, "10.0.0.1", ua="Googlebot/2.1", declared=True, crawler="Googlebot"),
    row(0, "10.0.0.2", ua="b-agent"),
    row(1, "10.0.0.2", ua="a-agent"),
    row(0, "10.0.0.3", ua=None),
]
EXPECTED_AGENTS = {
    # All of the client's user agents in the interval, whichever session: MOZ, CURL, none.
    "8.8.8.8#2015-05-17T01:00:00Z": {"distinct_user_agents": 3.0},
    "8.8.8.8#2015-05-17T06:00:00Z": {"distinct_user_agents": 3.0},
    "10.0.0.1#2015-05-17T01:00:00Z": {"distinct_user_agents": 2.0},
    "10.0.0.3#2015-05-17T01:00:00Z": {"distinct_user_agents": 1.0},
}
# The entity (here the client) over the interval: two sessions of 1 and 2 requests.
EXPECTED_ENTITY = {
    "8.8.8.8#2015-05-17T01:00:00Z": {"entity_sessions": 2.0, "entity_requests": 3.0},
    "8.8.8.8#2015-05-17T06:00:00Z": {"entity_sessions": 2.0, "entity_requests": 3.0},
    "10.0.0.2#2015-05-17T01:00:00Z": {"entity_sessions": 1.0, "entity_requests": 2.0},
}


def test_distinct_user_agents_counts_the_client_over_the_interval(spark):
    check(features(spark, AGENT_ROWS), EXPECTED_AGENTS)


def test_entity_features_cover_all_its_sessions(spark):
    check(features(spark, AGENT_ROWS), EXPECTED_ENTITY)
    by_ua = features(spark, AGENT_ROWS, key="client_user_agent")
    assert by_ua[f"8.8.8.8 | {CURL}#2015-05-17T06:00:00Z"]["distinct_user_agents"] == 3.0
    assert by_ua["8.8.8.8 | -#2015-05-17T06:00:01Z"]["distinct_user_agents"] == 3.0


def test_session_columns(spark):
    actual = features(spark, AGENT_ROWS)
    columns = ("entity", "client", "user_agent", "session_start", "session_end",
               "declared_crawler", "crawler_name")  # fmt: skip
    got = {s: tuple(r[c] for c in columns) for s, r in actual.items()}
    t = datetime.fromtimestamp(T0.timestamp())  # collect() gives naive local times
    assert got == {
        "8.8.8.8#2015-05-17T01:00:00Z": ("8.8.8.8", "8.8.8.8", MOZ, t, t, 0.0, None),
        "8.8.8.8#2015-05-17T06:00:00Z": (
            "8.8.8.8", "8.8.8.8", CURL, t + timedelta(hours=5),
            t + timedelta(hours=5, seconds=1), 0.0, None,
        ),
        "10.0.0.1#2015-05-17T01:00:00Z": (
            "10.0.0.1", "10.0.0.1", "Googlebot/2.1", t, t + timedelta(seconds=2), 1.0,
            "Googlebot",
        ),
        # A tie between two user agents goes to the smallest.
        "10.0.0.2#2015-05-17T01:00:00Z": (
            "10.0.0.2", "10.0.0.2", "a-agent", t, t + timedelta(seconds=1), 0.0, None,
        ),
        "10.0.0.3#2015-05-17T01:00:00Z": ("10.0.0.3", "10.0.0.3", None, t, t, 0.0, None),
    }  # fmt: skip


def test_without_crawler_columns_no_session_is_a_declared_crawler(spark):
    df = spark.createDataFrame(AGENT_ROWS, SCHEMA).drop("is_declared_crawler", "crawler_name")
    out = bf.session_features(df, "client", "UTC", 30.0)
    assert {(r["declared_crawler"], r["crawler_name"]) for r in out.collect()} == {(0.0, None)}


# --- the contract -----------------------------------------------------------------------------


def test_output_columns_and_types(spark):
    out = bf.session_features(spark.createDataFrame(TIMING_ROWS, SCHEMA), "client", "UTC", 30.0)
    assert tuple(out.columns) == (*bf.SESSION_COLUMNS, *FEATURE_NAMES)
    types = dict(out.dtypes)
    assert types["session_start"] == types["session_end"] == "timestamp"
    assert {types[name] for name in ("declared_crawler", *FEATURE_NAMES)} == {"double"}


def test_every_feature_is_checked():
    checked = set()
    for expected in (EXPECTED_TIMING, EXPECTED_BREADTH, EXPECTED_STATUS, EXPECTED_RESOURCES,
                     EXPECTED_REFERRERS, EXPECTED_AGENTS, EXPECTED_LOGIN,
                     EXPECTED_ENTITY, EXPECTED_SEQUENCE):  # fmt: skip
        for values in expected.values():
            checked |= set(values)
    assert checked == set(FEATURE_NAMES)


def test_catalogue_is_complete_and_not_made_of_weak_labels():
    assert len(FEATURE_NAMES) >= 34 and len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert all(text.strip() and "\n" not in text for text in FEATURES.values())
    assert not {"declared_crawler", "is_declared_crawler", "user_agent", "crawler_name"} & set(
        FEATURE_NAMES
    )


def test_docs_list_every_feature():
    page = (REPO / "docs" / "features.md").read_text()
    assert markdown_table() in page
    assert all(f"`{name}`" in page for name in FEATURE_NAMES)


def test_unknown_entity_key_is_rejected(spark):
    with pytest.raises(ValueError, match="unknown entity key"):
        bf.session_features(spark.createDataFrame(TIMING_ROWS, SCHEMA), "session", "UTC", 30.0)
