"""Enrichment columns on tiny inline DataFrames, checked against hand-worked values and, where
the module reimplements a package's semantics (crawler matching), against that package."""

from __future__ import annotations

import gzip
import ipaddress
import re
from datetime import UTC, datetime

from crawleruseragents import CRAWLER_USER_AGENTS_DATA, is_crawler, matching_crawlers
from pyspark.testing import assertDataFrameEqual

from spark_jobs.features import enrichment as en
from spark_jobs.features import python_described
from tests.support.paths import SAMPLE_LOG

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.109 Safari/537.36"
)

UA_COLUMNS = "ua_family string, ua_major string, os_family string, device_family string, "
UA_COLUMNS += "is_declared_crawler boolean, crawler_name string"


def test_user_agent_fields_once_per_agent_with_duplicates_and_nulls(spark):
    agents = [GOOGLEBOT, BINGBOT, CHROME, None, CHROME, None, "googlebot", "curl/8.4.0", GOOGLEBOT]
    df = spark.createDataFrame(list(enumerate(agents)), "id int, user_agent string")
    expected_by_agent = {
        GOOGLEBOT: ("Googlebot", "2", "Other", "Spider", True, r"Googlebot\/"),
        BINGBOT: ("bingbot", "2", "Other", "Spider", True, "bingbot"),
        CHROME: ("Chrome", "120", "Windows", "Other", False, None),
        None: (None, None, None, None, False, None),
        # Case-sensitive, as crawleruseragents.is_crawler: a lower-case name is not declared.
        "googlebot": ("googlebot", None, "Other", "Spider", False, None),
        "curl/8.4.0": ("curl", "8", "Other", "Other", True, "^curl"),
    }
    expected = spark.createDataFrame(
        [(i, ua, *expected_by_agent[ua]) for i, ua in enumerate(agents)],
        "id int, user_agent string, " + UA_COLUMNS,
    )
    for broadcast in (True, False):
        assertDataFrameEqual(
            python_described.with_user_agent_fields(df, broadcast=broadcast), expected
        )


def test_unrecognised_agent_is_other_not_null():
    assert python_described.describe_user_agent("zz") == {
        "ua_family": "Other",
        "ua_major": None,
        "os_family": "Other",
        "device_family": "Other",
        "is_declared_crawler": False,
        "crawler_name": None,
    }


def test_crawler_flag_and_name_match_the_package_on_real_agents():
    pattern = re.compile(r'"([^"]*)"\s*$')
    with gzip.open(SAMPLE_LOG, "rt", encoding="utf-8", errors="replace") as lines:
        agents = {m.group(1) for line in lines if (m := pattern.search(line))}
    agents |= {GOOGLEBOT, BINGBOT, CHROME, "Mozilla/5.0 (compatible; AhrefsBot/7.0)"}
    assert len(agents) > 300
    flagged = 0
    for ua in agents:
        got = python_described.describe_user_agent(ua)
        first = [CRAWLER_USER_AGENTS_DATA[i]["pattern"] for i in matching_crawlers(ua)][:1]
        assert got["is_declared_crawler"] is is_crawler(ua), ua
        assert got["crawler_name"] == (first[0] if first else None), ua
        flagged += got["is_declared_crawler"]
    assert 10 < flagged < len(agents) / 2


CLIENTS = [
    # client, client_ip, client_host, ip_version, client_prefix
    ("66.249.65.46", "66.249.65.46", None, 4, "66.249.65.0/24"),
    ("10.0.0.255", "10.0.0.255", None, 4, "10.0.0.0/24"),
    ("2001:0DB8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1", None, 6, "2001:db8::/64"),
    ("2001:db8:1:2::ab", "2001:db8:1:2::ab", None, 6, "2001:db8:1:2::/64"),
    ("2001:db8:0:0:0:0:0:1", "2001:db8::1", None, 6, "2001:db8::/64"),
    ("2001:0:0:1::", "2001:0:0:1::", None, 6, "2001:0:0:1::/64"),
    ("[2001:db8::1]", "2001:db8::1", None, 6, "2001:db8::/64"),
    ("::1", "::1", None, 6, "::/64"),
    ("::", "::", None, 6, "::/64"),
    ("::ffff:1.2.3.4", "1.2.3.4", None, 4, "1.2.3.0/24"),
    ("::FFFF:0102:0304", "1.2.3.4", None, 4, "1.2.3.0/24"),
    ("64:ff9b::192.0.2.33", "64:ff9b::c000:221", None, 6, "64:ff9b::/64"),
    ("msnbot-65-55-52-118.search.msn.com", None, "msnbot-65-55-52-118.search.msn.com", None, "search.msn.com"),
    ("Crawl-66-249-65-46.GoogleBot.com.", None, "crawl-66-249-65-46.googlebot.com", None, "googlebot.com"),
    ("localhost", None, "localhost", None, "localhost"),
    ("-", None, None, None, None),
    (None, None, None, None, None),
    ("", None, None, None, None),
    ("1.2.3.999", None, None, None, None),
    ("01.2.3.4", None, None, None, None),
    ("1.2.3", None, None, None, None),
    ("1::2::3", None, None, None, None),
    ("1:2:3:4:5:6:7:8:9", None, None, None, None),
    ("1:2:3:4::5:6:7:8", None, None, None, None),
    ("12345::", None, None, None, None),
    ("::ffff:1.2.3.256", None, None, None, None),
    ("bad_host!", None, None, None, None),
    ("fe80::1%eth0", None, None, None, None),
]  # fmt: skip


def test_client_fields(spark):
    expected = spark.createDataFrame(
        CLIENTS,
        "client string, client_ip string, client_host string, ip_version int, client_prefix string",
    )
    assertDataFrameEqual(en.with_client_fields(expected.select("client")), expected)


def test_describe_ipv6_is_ipaddress_text():
    addr = ipaddress.IPv6Address("2001:db8:0:0:1::1")
    assert python_described.describe_ipv6(addr.exploded.upper()) == (
        addr.compressed,
        6,
        "2001:db8::/64",
    )
    assert python_described.describe_ipv6("[::ffff:10.1.2.3]") == ("10.1.2.3", 4, "10.1.2.0/24")
    assert python_described.describe_ipv6("1.2.3.4") is None
    assert python_described.describe_ipv6("Mozilla/5.0 (X11; Linux x86_64)") is None


PATHS = [
    # path, query, path_class
    ("/", None, "page"),
    ("/index.html", "q=/admin", "page"),
    ("/products/item.php", "id=1&x=../../etc/passwd", "page"),
    ("/downloads/manual.PDF", None, "page"),
    ("/about", None, "page"),
    ("*", None, "page"),
    ("/.well-known/security.txt", None, "page"),
    ("/css/site.CSS", "v=3", "static"),
    ("/img/logo.png", None, "static"),
    ("/favicon.ico", None, "static"),
    ("/fonts/a.woff2", None, "static"),
    ("/js/app.min.js", "v=/wp-admin", "static"),
    ("/video/clip.MP4", None, "static"),
    ("/api/v1/users", None, "api"),
    ("/API/v1/avatar.png", None, "api"),
    ("/graphql", "query={a}", "api"),
    ("/blog/wp-json/wp/v2/posts", None, "api"),
    ("/data/feed.json", None, "api"),
    ("/admin", None, "sensitive"),
    ("/scripts/..%255c../winnt/system32/cmd.exe", "/c+dir", "sensitive"),
    ("/MSADC/root.exe", "/c+dir", "sensitive"),
    ("/default.ida", "NNNN", "sensitive"),
    ("/scripts/..%c0%af../winnt/system32/cmd.exe", None, "sensitive"),
    ("/Admin/", None, "sensitive"),
    ("/administrator/index.php", None, "sensitive"),
    ("/wp-admin/css/login.min.css", None, "sensitive"),
    ("/blog/WP-LOGIN.PHP", "redirect_to=/", "sensitive"),
    ("/xmlrpc.php", None, "sensitive"),
    ("/user/login", None, "sensitive"),
    ("/phpMyAdmin/index.php", None, "sensitive"),
    ("/.env", None, "sensitive"),
    ("/.git/config", None, "sensitive"),
    ("/cgi-bin/test.cgi", None, "sensitive"),
    ("/server-status", None, "sensitive"),
    ("/config.json", None, "sensitive"),
    ("/shell.php", None, "sensitive"),
    ("/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", None, "sensitive"),
    ("/WEB-INF/web.xml", None, "sensitive"),
    ("/static/../../etc/passwd", None, "sensitive"),
    ("/backup.sql", None, "sensitive"),
    ("/api/admin/users", None, "sensitive"),
    ("http://Example.COM/wp-login.php", None, "sensitive"),
    ("/administration-guide.html", None, "page"),
    ("/mylogin.css", None, "static"),
    (None, None, "other"),
]


def test_path_class(spark):
    expected = spark.createDataFrame(PATHS, "path string, query string, path_class string")
    assertDataFrameEqual(en.with_path_class(expected.select("path", "query")), expected)


EXTENSIONS = [
    ("/a/b.JPG", "jpg"),
    ("/a/", None),
    ("/a.b/c", None),
    ("/", None),
    ("/x.tar.gz", "gz"),
    ("/.env", None),
    ("/..", None),
    ("/a/.hidden.txt", "txt"),
    ("/file.", None),
    ("/index.php;jsessionid=AB.CD", "php"),
    ("/f.ABCDEFGHIJKLMNOP", "abcdefghij"),
    ("noslash.Html", "html"),
    ("http://example.com", None),
    ("http://example.com/a.GIF", "gif"),
    (None, None),
]


def test_extension(spark):
    expected = spark.createDataFrame(EXTENSIONS, "path string, extension string")
    assertDataFrameEqual(en.with_extension(expected.select("path")), expected)


def test_enrich_keeps_rows_and_input_columns(spark):
    ts = datetime(2015, 5, 17, 10, 0, tzinfo=UTC)
    rows = [
        (ts, "66.249.65.46", "GET", "/robots.txt", None, 200, GOOGLEBOT),
        (ts, "66.249.65.46", "GET", "/robots.txt", None, 200, GOOGLEBOT),
        (ts, "2001:db8::1", "GET", "/a.css", "v=1", 200, CHROME),
        (ts, "host.example.org", "POST", "/wp-login.php", None, 302, CHROME),
        (ts, "-", None, None, None, 400, None),
        (ts, None, "GET", "/", None, 200, None),
    ]
    df = spark.createDataFrame(
        rows,
        "ts timestamp, client string, method string, path string, query string, status int, "
        "user_agent string",
    )
    out = en.enrich(df)
    assert out.columns == df.columns + en.ENRICHED_SCHEMA.fieldNames()
    assert out.select(*en.ENRICHED_SCHEMA.fieldNames()).schema == en.ENRICHED_SCHEMA
    assertDataFrameEqual(out.select(*df.columns), df)
    got = out.groupBy("path_class", "is_declared_crawler", "ua_family", "client_prefix").count()
    expected = spark.createDataFrame(
        [
            ("page", True, "Googlebot", "66.249.65.0/24", 2),
            ("static", False, "Chrome", "2001:db8::/64", 1),
            ("sensitive", False, "Chrome", "example.org", 1),
            ("other", False, None, None, 1),
            ("page", False, None, None, 1),
        ],
        "path_class string, is_declared_crawler boolean, ua_family string, "
        "client_prefix string, count long",
    )
    assertDataFrameEqual(got, expected)
    assertDataFrameEqual(en.enrich(df, broadcast=False), out)
