"""The refresh command, offline (``--from-dir``) on a copy of the shipped table."""

from __future__ import annotations

import json
import shutil

from spark_jobs.features import crawler_check, crawler_refresh


def _copy_shipped(tmp_path):
    operators = tmp_path / "verified_crawlers.json"
    shutil.copy(crawler_check.OPERATORS_FILE, operators)
    ranges = shutil.copytree(crawler_check.RANGES_DIR, tmp_path / "ranges")
    return operators, ranges


def test_a_given_file_replaces_the_copy_and_is_recorded(tmp_path):
    operators, ranges = _copy_shipped(tmp_path)
    given = tmp_path / "given"
    given.mkdir()
    (given / "bingbot.json").write_text(json.dumps(
        {"creationTime": "2026-11-30T00:00:00", "prefixes": [{"ipv4Prefix": "157.55.39.0/24"}]}))  # fmt: skip
    code = crawler_refresh.main(["--from-dir", str(given), "--operators", str(operators),
                                 "--ranges-dir", str(ranges)])  # fmt: skip
    assert code == 1  # the other operators' files were not given: their old copies stay
    bing = next(
        e for e in json.loads(operators.read_text())["operators"] if e["operator"] == "bing"
    )
    assert bing["ranges_file"] == "bingbot.json" and str(given) in bing["fetched_via"]
    ops = crawler_check.load_operators(operators, ranges)
    assert crawler_check.verdict("157.55.39.90", "bingbot/2.0", ops).spoofed is False
    assert crawler_check.verdict("203.0.113.5", "bingbot/2.0", ops).spoofed is True
    # the shipped googlebot.json is untouched: not given, kept
    assert (ranges / "googlebot.json").read_bytes() == (
        crawler_check.RANGES_DIR / "googlebot.json"
    ).read_bytes()


def test_a_broken_file_keeps_the_old_copy_and_says_why(tmp_path, capsys):
    operators, ranges = _copy_shipped(tmp_path)
    given = tmp_path / "given"
    given.mkdir()
    (given / "googlebot.json").write_text('{"prefixes": []}')
    before = (ranges / "googlebot.json").read_bytes()
    crawler_refresh.main(
        ["--from-dir", str(given), "--operators", str(operators), "--ranges-dir", str(ranges)]
    )
    assert (ranges / "googlebot.json").read_bytes() == before
    out = capsys.readouterr().out
    assert "google: kept the old copy:" in out and "no ipv4Prefix" in out
    assert "yandex: no published ranges (domains only)" in out
    assert not list(ranges.glob(".*"))  # no leftover check or temp files
