"""The pure-Python sample parse ``botwatch check`` uses: same regexes and reasons as Spark's."""

from __future__ import annotations

import bz2
import gzip
import json

import pytest

from spark_jobs.parsing import sample
from spark_jobs.parsing.formats.presets import compile_format
from spark_jobs.parsing.formats.regex import CLF_TIME
from tests.support.paths import SAMPLE_LOG

UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
COMBINED = f'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /a?x=1 HTTP/1.1" 200 12 "-" "{UA}"'
#: Lines of every shape the Spark tests use, good and bad, per format.
LINES = {
    "combined": [
        COMBINED,
        '2001:db8::1 id bob [17/May/2015:03:05:03 -0700] "-" 408 - "-" "-"',
        'h - - [17/May/2015:10:05:03 +0530] "\\x16\\x03\\x01" 400 0 "-" "-" "10.0.0.1"\r',
        'h - - [17/May/2015:10:05:03 +0000] "GET /a\\"b HTTP/1.0" 304 0 "-" "Googlebot (trunc',
        'h - - [17/May/2015:10:05:03 +0000] "HEAD /robots.txt HTTP/1.1" 404 12',
        'h - - [32/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
        'h - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 2000 1 "-" "-"',
        'h - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 12x "-" "-"',
        "   ",
        "not a log line at all",
    ],
    "vhost_combined": [
        f"example.org:443 {COMBINED}",
        COMBINED,
    ],
    "common": ['h - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 -', "x"],
    "json": [
        json.dumps({"@timestamp": "2015-05-17T10:05:03Z", "source": {"ip": "1.2.3.4"},
                    "url": {"original": "/a"}, "http": {"response": {"status_code": 200}}}),
        json.dumps({"time": 1431857103, "remote_addr": "h", "request": "GET /b HTTP/1.1",
                    "status": "404", "body_bytes_sent": "10"}),
        json.dumps({"time_local": "17/May/2015:10:05:03 +0000", "uri": "/c", "status": 200}),
        json.dumps({"time": "soon", "uri": "/c", "status": 200}),
        json.dumps({"time": 1431857103, "uri": "/c", "status": "ok"}),
        json.dumps({"time": 1431857103, "status": 200}),
        json.dumps(["a", "list"]),
        "{not json",
    ],
    '%h %{%Y-%m-%d %H:%M:%S}t "%r" %>s %D': [
        'h 2015-05-17 10:05:03 "GET / HTTP/1.1" 200 1234',
        'h 2015-13-17 10:05:03 "GET / HTTP/1.1" 200 1234',
    ],
    '$remote_addr [$time_iso8601] "$request" $status': [
        'h [2015-05-17T10:05:03+02:00] "GET / HTTP/1.1" 200',
        'h [yesterday] "GET / HTTP/1.1" 200',
    ],
    "%h [%{msec}t] %U %>s": ["h [1431857103.123] /a 200", "h [soon] /a 200"],
}  # fmt: skip


def test_the_sample_gives_the_quarantine_reasons_spark_gives(spark):
    from spark_jobs.parsing.lines import parse_lines

    for spec, lines in LINES.items():
        fmt = spec if spec in ("combined", "vhost_combined", "common", "json") else None
        fmt = fmt or compile_format(spec)
        df = spark.createDataFrame(
            [(i, line) for i, line in enumerate(lines)], "i int, value string"
        )
        rows = parse_lines(df, fmt).select("i", "reason").orderBy("i").collect()
        check = sample.line_checker(fmt)
        assert [check(line) for line in lines] == [row["reason"] for row in rows], spec


def test_python_reads_the_parsers_java_regex():
    fmt = compile_format('%h %l %u %t "%r" %>s %b')
    assert "(?<client>" in fmt.pattern
    match = sample.python_pattern(fmt.pattern).match(COMBINED)
    assert match is not None
    assert (match["client"], match["status"], match["extra"]) == ("1.2.3.4", "200", f' "-" "{UA}"')


def test_auto_detection_uses_the_same_thresholds_as_spark():
    from spark_jobs.parsing.formats import detection

    assert (sample.MIN_SHARE, sample.EXTRA_SHARE) == (detection.MIN_SHARE, detection.EXTRA_SHARE)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([COMBINED] * 5, "combined"),
        ([f'{COMBINED} "10.0.0.1"'] * 5, "combined_extra"),
        ([f"example.org:80 {COMBINED}"] * 5, "vhost_combined"),
        ([LINES["json"][0]] * 5, "json"),
        ([], "combined"),
    ],
)
def test_detect(lines, expected):
    assert sample.detect(lines)[0] == expected


def test_the_real_sample_log_is_combined_whole_and_counted():
    result = sample.sample_parse(SAMPLE_LOG, "auto", limit=50)
    assert (result.format, result.lines, result.parsed, result.bad) == ("combined", 50, 50, [])
    assert result.shares["combined"] == 1.0 and result.shares["json"] == 0.0


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2"])
def test_plain_gzip_and_bzip2_files_are_read(tmp_path, suffix):
    data = "\n".join([COMBINED, "garbage", COMBINED]).encode() + b"\n"
    path = tmp_path / f"access.log{suffix}"
    path.write_bytes({"": data, ".gz": gzip.compress(data), ".bz2": bz2.compress(data)}[suffix])
    result = sample.sample_parse(path, "combined")
    assert (result.lines, result.parsed, result.bad) == (3, 2, [(2, "no_match", "garbage")])


def test_a_cut_short_gzip_gives_its_readable_lines(tmp_path):
    data = gzip.compress(("\n".join([COMBINED] * 2000) + "\n").encode())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data[: len(data) // 2])
    lines = sample.read_head(path, limit=5000)
    assert 0 < len(lines) < 2000
    assert lines[0] == COMBINED


def test_spark_time_patterns_become_strptime_codes():
    assert sample.spark_to_strptime(CLF_TIME) == "%d/%b/%Y:%H:%M:%S %z"
    custom = compile_format("%h %{%d.%m.%Y %H:%M:%S}t %r").time_format
    assert sample.spark_to_strptime(custom) == "%d.%m.%Y %H:%M:%S"
