"""Crawler claims against what their operators publish, with clients and user agents taken
from the dev logs (``../shared/data/logs``): no JVM except the last test."""

from __future__ import annotations

import ipaddress
import json

import pytest

from spark_jobs.features import crawler_check as cc
from spark_jobs.features.crawler_check import AddressRanges, verdict

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_MOBILE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 6_0 like Mac OS X) AppleWebKit/536.26 (KHTML, like Gecko)"
    " Version/6.0 Mobile/10A5376e Safari/8536.25 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
YANDEX = "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"
BINGPREVIEW = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b"
)


@pytest.mark.parametrize(
    ("client", "agent", "operator", "spoofed"),
    [
        # elastic_examples, 2015-05-17: Google's own address
        ("66.249.73.135", GOOGLEBOT_MOBILE, "google", False),
        # almhuette_raith, 2019-10-16: a Colombian ISP's client fetching the site as "Googlebot"
        ("190.165.220.24", GOOGLEBOT, "google", True),
        # aircareonline, 2015-05: host names logged by HostnameLookups
        ("crawl-66-249-75-211.googlebot.com", GOOGLEBOT, "google", False),
        ("msnbot-199-30-20-224.search.msn.com", BINGPREVIEW, "bing", False),
        ("spider-100-43-85-9.yandex.com", YANDEX, "yandex", False),
        ("spider-100-43-85-9.yandex.com.evil.example", YANDEX, "yandex", True),
        ("googlebot.com.attacker.net", GOOGLEBOT, "google", True),
        # no Bing ranges shipped: an address is not judged, only a host name is
        ("157.55.39.90", BINGPREVIEW, "bing", None),
        # a browser claims nothing
        ("66.249.73.135", "Mozilla/5.0 (X11; Linux x86_64) Firefox/38.0", None, None),
    ],
)
def test_claims_from_the_dev_logs(client, agent, operator, spoofed):
    result = verdict(client, agent)
    assert (result.operator, result.spoofed) == (operator, spoofed)
    if spoofed:
        assert result.reason.startswith("claims ") and client in result.reason


def test_a_spoofed_address_is_named_with_the_ranges_file_and_its_date():
    result = verdict("190.165.220.24", GOOGLEBOT)
    assert result.reason == (
        "claims Google but 190.165.220.24 is outside its published ranges (googlebot.json of 2026-08-20)"
    )


def test_ipv6_and_ipv4_mapped_clients_are_checked_against_the_ranges():
    assert verdict("2001:4860:4801:10::1", GOOGLEBOT).spoofed is False
    assert verdict("[2001:db8::1]", GOOGLEBOT).spoofed is True
    assert verdict("::ffff:66.249.73.135", GOOGLEBOT).spoofed is False


def test_missing_client_or_agent_is_no_claim():
    assert verdict(None, GOOGLEBOT) == cc.NO_CLAIM
    assert verdict("66.249.73.135", None) == cc.NO_CLAIM


def test_ranges_merge_adjacent_networks_and_bisect_both_families():
    nets = [
        ipaddress.ip_network(n)
        for n in ("10.0.0.0/25", "10.0.0.128/25", "10.0.2.0/24", "2001:db8::/64")
    ]
    ranges = AddressRanges(nets)
    for inside in ("10.0.0.0", "10.0.0.200", "10.0.2.255", "2001:db8::ffff"):
        assert ipaddress.ip_address(inside) in ranges
    for outside in ("9.255.255.255", "10.0.1.0", "10.0.3.0", "2001:db8:0:1::"):
        assert ipaddress.ip_address(outside) not in ranges
    assert ranges._starts[4] == [
        int(ipaddress.ip_address("10.0.0.0")),
        int(ipaddress.ip_address("10.0.2.0")),
    ]


def test_every_shipped_operator_names_its_source_and_its_files_parse():
    doc = json.loads(cc.OPERATORS_FILE.read_text())
    names = {entry["operator"] for entry in doc["operators"]}
    assert {
        "google",
        "bing",
        "apple",
        "duckduckgo",
        "yandex",
        "baidu",
        "openai",
        "anthropic",
    } <= names
    for entry in doc["operators"]:
        if entry["ranges_file"]:
            assert entry["ranges_url"].startswith("https://") and entry["fetched_via"]
            ranges, created = cc.read_ranges(cc.RANGES_DIR / entry["ranges_file"])
            assert ranges.count > 0 and created[:2] == "20"
    shipped = {p.name for p in cc.RANGES_DIR.iterdir()}
    assert shipped == {e["ranges_file"] for e in doc["operators"] if e["ranges_file"]}


def test_a_ranges_file_without_prefixes_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "empty.json"
    bad.write_text('{"creationTime": "2026-01-01", "prefixes": []}')
    with pytest.raises(ValueError, match="empty.json: no ipv4Prefix"):
        cc.read_ranges(bad)


def test_the_spark_prefilter_matches_every_claim_the_python_check_makes():
    import re

    prefilter = re.compile(cc.claim_pattern().removeprefix("(?i)"), re.IGNORECASE)
    for agent in (
        GOOGLEBOT,
        GOOGLEBOT_MOBILE,
        YANDEX,
        BINGPREVIEW,
        "GPTBot/1.2",
        "ClaudeBot/1.0",
        "Applebot/0.1",
    ):
        assert prefilter.search(agent) and verdict("192.0.2.1", agent).operator is not None


def test_sessions_get_the_check_columns_once_per_client_and_agent(spark):
    from pyspark.testing import assertDataFrameEqual

    sessions = spark.createDataFrame(
        [("s1", "190.165.220.24", GOOGLEBOT), ("s2", "66.249.73.135", GOOGLEBOT_MOBILE),
         ("s3", "203.0.113.9", "curl/8.0"), ("s4", "203.0.113.9", None)],
        "session string, client string, user_agent string",
    )  # fmt: skip
    out = cc.with_crawler_check(sessions).select("session", *cc.CHECK_COLUMNS)
    expected = spark.createDataFrame(
        [("s1", "google", 1.0, verdict("190.165.220.24", GOOGLEBOT).reason),
         ("s2", "google", 0.0, verdict("66.249.73.135", GOOGLEBOT_MOBILE).reason),
         ("s3", None, None, None), ("s4", None, None, None)],
        "session string, crawler_operator string, spoofed_crawler double, crawler_check string",
    )  # fmt: skip
    assertDataFrameEqual(out, expected)


def test_the_check_works_from_the_zip_executors_import(tmp_path):
    """Executors run the package from ``stage.shipping``'s zip: its data must load from there
    (a backfill here failed on ``Path.read_text`` inside the zip before it did)."""
    import subprocess
    import sys

    from spark_jobs.stage.shipping import package_dir, zip_package

    archive = zip_package(package_dir(), tmp_path)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from spark_jobs.features import crawler_check as cc; "
        "assert cc.__file__.startswith(sys.argv[1]), cc.__file__; "
        "print(cc.verdict('190.165.220.24', 'Googlebot/2.1').spoofed)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(archive)], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
