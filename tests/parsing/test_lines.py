"""Parsing access-log lines: the real-world shapes we must accept, and what goes to quarantine."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from spark_jobs.errors import StageFailed
from spark_jobs.parsing.lines import parse_lines
from spark_jobs.parsing.schema import PARSED_SCHEMA, QUARANTINE_SCHEMA, in_interval, split_parsed
from spark_jobs.parsing.sources import list_files, read_lines

UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def _lines(spark, *lines, source="f.log"):
    return spark.createDataFrame(
        [(line, source) for line in lines], "value string, source_file string"
    )


def _row(**fields):
    """An expected parsed row: every PARSED_SCHEMA column, null unless given."""
    values = {name: None for name in PARSED_SCHEMA.fieldNames()}
    values.update(source_file="f.log", **fields)
    return Row(**values)


def _ts(*args):
    return datetime(*args, tzinfo=UTC)


def test_combined_lines_of_real_world_shapes(spark):
    lines = _lines(
        spark,
        # plain line, query string split off the path
        '83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /a.png?x=1&y=2 HTTP/1.1" 200 203023'
        f' "http://semicomplete.com/" "{UA}"',
        # IPv6 client, ident and user, non-UTC offset, "-" request, "-" bytes
        '2001:db8::1 id bob [17/May/2015:03:05:03 -0700] "-" 408 - "-" "-"',
        # hostname client, worm garbage as request, extra field after the agent, CRLF line end
        'crawl-1.example.com - - [17/May/2015:10:05:03 +0530] "\\x16\\x03\\x01" 400 0 "-" "-"'
        ' "10.0.0.1"\r',
        # user agent cut off before its closing quote, escaped quote in the request
        'h - - [17/May/2015:10:05:03 +0000] "GET /a\\"b HTTP/1.0" 304 0 "-" "Googlebot (trunc',
        # combined line without referrer and agent (CLF written into a combined file)
        'h - - [17/May/2015:10:05:03 +0000] "HEAD /robots.txt HTTP/1.1" 404 12',
    )
    parsed, quarantine = split_parsed(parse_lines(lines, "combined"))

    expected = [
        _row(
            ts=_ts(2015, 5, 17, 10, 5, 3),
            ts_offset="+0000",
            client="83.149.9.216",
            method="GET",
            path="/a.png",
            query="x=1&y=2",
            protocol="HTTP/1.1",
            request="GET /a.png?x=1&y=2 HTTP/1.1",
            status=200,
            bytes=203023,
            referrer="http://semicomplete.com/",
            user_agent=UA,
        ),
        _row(
            ts=_ts(2015, 5, 17, 10, 5, 3),
            ts_offset="-0700",
            client="2001:db8::1",
            ident="id",
            auth_user="bob",
            request="-",
            status=408,
        ),
        _row(
            ts=_ts(2015, 5, 17, 4, 35, 3),
            ts_offset="+0530",
            client="crawl-1.example.com",
            request="\\x16\\x03\\x01",
            status=400,
            bytes=0,
            extra='"10.0.0.1"',
        ),
        _row(
            ts=_ts(2015, 5, 17, 10, 5, 3),
            ts_offset="+0000",
            client="h",
            method="GET",
            path='/a\\"b',
            protocol="HTTP/1.0",
            request='GET /a\\"b HTTP/1.0',
            status=304,
            bytes=0,
            user_agent="Googlebot (trunc",
        ),
        _row(
            ts=_ts(2015, 5, 17, 10, 5, 3),
            ts_offset="+0000",
            client="h",
            method="HEAD",
            path="/robots.txt",
            protocol="HTTP/1.1",
            request="HEAD /robots.txt HTTP/1.1",
            status=404,
            bytes=12,
        ),
    ]
    assertDataFrameEqual(parsed, spark.createDataFrame(expected, PARSED_SCHEMA))
    assert parsed.schema == PARSED_SCHEMA
    assert quarantine.schema == QUARANTINE_SCHEMA
    assert quarantine.count() == 0


def test_common_format_has_no_referrer_or_agent(spark):
    lines = _lines(
        spark,
        "web.example.org - frank [10/Oct/2000:13:55:36 -0700]"
        ' "GET /apache_pb.gif HTTP/1.0" 200 2326',
        # a combined line read as common: referrer and agent kept in extra, not a parse failure
        f'1.2.3.4 - - [10/Oct/2000:20:55:36 +0000] "GET /x HTTP/1.0" 200 - "-" "{UA}"',
    )
    parsed, _ = split_parsed(parse_lines(lines, "common"))
    get = {"method": "GET", "protocol": "HTTP/1.0", "status": 200}
    expected = [
        _row(
            ts=_ts(2000, 10, 10, 20, 55, 36),
            ts_offset="-0700",
            client="web.example.org",
            auth_user="frank",
            path="/apache_pb.gif",
            request="GET /apache_pb.gif HTTP/1.0",
            bytes=2326,
            **get,
        ),
        _row(
            ts=_ts(2000, 10, 10, 20, 55, 36),
            ts_offset="+0000",
            client="1.2.3.4",
            path="/x",
            request="GET /x HTTP/1.0",
            extra=f'"-" "{UA}"',
            **get,
        ),
    ]
    assertDataFrameEqual(parsed, spark.createDataFrame(expected, PARSED_SCHEMA))


def test_unparsable_lines_are_quarantined_with_reason(spark):
    good = 'h - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "-"'
    bad = {
        "GET / HTTP/1.1 200 garbage": "no_match",
        "   ": "empty",
        good.replace("10:05:03", "25:05:03"): "bad_timestamp",
        good.replace("17/May", "17/Foo"): "bad_timestamp",
        good.replace(" 200 ", " 2x0 "): "bad_status",
        good.replace(" 5 ", " 5kB "): "bad_bytes",
        # a user agent ending in a lone backslash cannot be a complete quoted field
        good[:-3] + '"abc\\': "no_match",
    }
    parsed, quarantine = split_parsed(parse_lines(_lines(spark, good, *bad), "combined"))
    expected = [
        Row(source_file="f.log", line_no=None, line=line, reason=reason)
        for line, reason in bad.items()
    ]
    assertDataFrameEqual(quarantine, spark.createDataFrame(expected, QUARANTINE_SCHEMA))
    assert parsed.count() == 1


def test_unknown_format_is_rejected_before_any_spark_work():
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        parse_lines(None, "xml")


def test_interval_is_half_open(spark):
    df = spark.createDataFrame(
        [(datetime(2015, 5, 17, 23, 59, 59),), (datetime(2015, 5, 18),), (datetime(2015, 5, 19),)],
        "ts timestamp",
    )
    start, end = datetime(2015, 5, 18, tzinfo=UTC), datetime(2015, 5, 19, tzinfo=UTC)
    window = in_interval(start, end)
    assertDataFrameEqual(df.where(window), [Row(ts=datetime(2015, 5, 18))])
    assert df.where(~window).count() == 2


def test_read_lines_plain_and_gz_split_on_newline_only(spark, tmp_path):
    (tmp_path / "a.log").write_bytes(b"one\rstill one\ntwo\r\n")
    with gzip.open(tmp_path / "b.log.gz", "wb") as fh:
        fh.write(b"three\n")
    df = read_lines(spark, list_files(spark, str(tmp_path / "*.log*")))
    got = sorted((r.value, r.source_file.rsplit("/", 1)[-1]) for r in df.collect())
    assert got == [("one\rstill one", "a.log"), ("three", "b.log.gz"), ("two\r", "a.log")]


def test_read_lines_names_a_glob_that_matches_nothing(spark, tmp_path):
    glob = str(tmp_path / "nothing-*.gz")
    with pytest.raises(StageFailed, match="nothing-"):
        list_files(spark, glob)
    assert list_files(spark, glob, missing_ok=True) == []
