"""Format presets and format strings: compiled once, parsed in one regex pass per line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pyspark.sql import functions as F

from spark_jobs.errors import LogFormatError, StageFailed
from spark_jobs.parsing.formats.apache_nginx import compile_apache, compile_nginx, strftime_to_spark
from spark_jobs.parsing.formats.detection import detect_format
from spark_jobs.parsing.formats.presets import PRESETS, compile_format, preset
from spark_jobs.parsing.lines import parse_lines
from spark_jobs.parsing.schema import split_parsed

UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
COMBINED_LINE = (
    f'10.1.2.3 - - [05/Mar/2024:10:00:00 +0100] "GET /p?q=1 HTTP/1.1" 200 512 "http://r/" "{UA}"'
)


def _parse(spark, fmt, *lines):
    df = spark.createDataFrame([(line, "f") for line in lines], "value string, source_file string")
    return parse_lines(df, fmt).collect()


# --- compiling (pure Python) --------------------------------------------------------------


def test_every_preset_compiles_to_one_anchored_pattern_with_a_time_and_request():
    for name in PRESETS:
        fmt = preset(name)
        assert fmt.pattern.startswith("^") and fmt.pattern.endswith("$")
        assert {"time", "extra"} <= set(fmt.roles)


def test_apache_logformat_pasted_from_httpd_conf_with_escaped_quotes():
    line = r'LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"" combined'
    assert compile_apache(line).pattern == preset("combined").pattern


def test_nginx_log_format_directive_pasted_whole():
    directive = (
        "log_format main '$remote_addr - $remote_user [$time_local] \"$request\" '\n"
        '                \'$status $body_bytes_sent "$http_referer" "$http_user_agent"\';'
    )
    assert compile_nginx(directive).pattern == preset("nginx_combined").pattern


def test_format_language_is_recognised():
    assert (
        "xff"
        in compile_format('$remote_addr [$time_local] "$request" "$http_x_forwarded_for"').roles
    )
    assert "sessionid" in compile_format('%h %t "%r" %{JSESSIONID}C').roles


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("%h %l %u", "no time field"),
        ("%h %t %s", "no request field"),
        ('%h %t "%r" %{unterminated', "cannot read the directive"),
        ("%h %{%Q}t %r", "time code %Q"),
        ('%h %t "%r" %Q', "%Q is not an Apache LogFormat directive; known letters: %A %a %B %b"),
        ('%h %t "%r" %{X-Id}J', r"%\{X-Id\}J is not an Apache LogFormat directive"),
    ],
)
def test_bad_format_strings_name_the_problem(text, message):
    with pytest.raises(LogFormatError, match=message):
        compile_format(text)


def test_strftime_codes_become_spark_patterns():
    assert strftime_to_spark("%Y-%m-%d %H:%M:%S") == "yyyy-MM-dd HH:mm:ss"
    assert strftime_to_spark("%d/%b/%Y:%T %z") == "dd/MMM/yyyy:HH:mm:ss Z"


# --- parsing with Spark -------------------------------------------------------------------


def test_vhost_combined_splits_host_and_port(spark):
    [row] = _parse(spark, "vhost_combined", "www.example.com:443 " + COMBINED_LINE)
    assert (row.vhost, row.server_port, row.client, row.status) == (
        "www.example.com",
        443,
        "10.1.2.3",
        200,
    )
    assert row.ts == datetime(2024, 3, 5, 9, 0) and row.ts_offset == "+0100"


def test_combined_extra_keeps_trailing_fields(spark):
    [row] = _parse(spark, "combined_extra", COMBINED_LINE + ' "-" "1.2.3.4, 5.6.7.8"')
    assert row.reason is None
    assert row.user_agent == UA
    assert row.extra == '"-" "1.2.3.4, 5.6.7.8"'


def test_nginx_main_reads_forwarded_for(spark):
    line = COMBINED_LINE.replace('"GET', '"POST') + ' "203.0.113.9"'
    [row] = _parse(spark, "nginx_main", line)
    assert (row.method, row.x_forwarded_for, row.extra) == ("POST", "203.0.113.9", None)


def test_custom_apache_format_with_session_cookie_and_timings(spark):
    fmt = compile_format('%v %h %t "%m %U%q %H" %>s %B %D %{sid}C "%{User-Agent}i"')
    line = f'shop 2001:db8::7 [05/Mar/2024:10:00:00 +0000] "POST /login?next=/a HTTP/2" 401 17 2500 abc123 "{UA}"'
    [row] = _parse(spark, fmt, line)
    assert row.reason is None
    assert (row.vhost, row.client, row.method, row.path, row.query) == (
        "shop", "2001:db8::7", "POST", "/login", "next=/a",
    )  # fmt: skip
    assert (row.protocol, row.request) == ("HTTP/2", "POST /login?next=/a HTTP/2")
    assert (row.bytes, row.request_time_ms, row.session_id, row.user_agent) == (
        17,
        2.5,
        "abc123",
        UA,
    )


def test_iliou_format_without_client_ip(spark):
    fmt = compile_format('%l %u %t "%r" %>s %b "%{Referer}i" %{PHPSESSID}C "%{User-Agent}i"')
    rows = _parse(
        spark,
        fmt,
        '- - [28/Oct/2019:09:40:31 +0000] "GET /css/main.css HTTP/1.1" 200 764 "https://x/" r0e98rt "Mozilla/5.0"',
        '- - [30/Oct/2019:09:42:02 +0000] "GET / HTTP/1.0" 200 2045 "-" - "-"',
    )
    assert [(r.client, r.session_id, r.user_agent, r.reason) for r in rows] == [
        (None, "r0e98rt", "Mozilla/5.0", None),
        (None, None, None, None),
    ]


def test_nginx_iso_time_and_request_time_in_seconds(spark):
    fmt = compile_format('$remote_addr [$time_iso8601] "$request" $status $request_time')
    [row] = _parse(spark, fmt, '::1 [2024-03-05T12:00:00+02:00] "GET / HTTP/1.1" 304 0.250')
    assert (row.ts, row.ts_offset, row.request_time_ms) == (
        datetime(2024, 3, 5, 10, 0),
        "+0200",
        250.0,
    )


def test_time_without_zone_is_read_in_the_configured_zone(spark):
    fmt = compile_format('%h [%{%Y-%m-%d %H:%M:%S}t] "%r" %>s')
    df = spark.createDataFrame(
        [('h [2024-07-01 12:00:00] "GET / HTTP/1.1" 200', "f")], "value string, source_file string"
    )
    [row] = parse_lines(df, fmt, log_timezone="Europe/Vienna").collect()
    assert row.ts == datetime(2024, 7, 1, 10, 0)  # CEST is UTC+2


def test_epoch_msec_time(spark):
    fmt = compile_format('$msec $remote_addr "$request" $status')
    [row] = _parse(spark, fmt, '1709632800.123 1.2.3.4 "GET / HTTP/1.1" 200')
    assert row.ts == datetime(2024, 3, 5, 10, 0, 0, 123000)


def test_json_lines_with_ecs_nested_and_flat_keys(spark):
    ecs = (
        '{"@timestamp":"2024-03-05T10:00:01.500Z","source":{"ip":"10.0.0.1"},'
        '"http":{"request":{"method":"GET"},"response":{"status_code":200,"body":{"bytes":5}}},'
        '"url":{"original":"/a?b=1"},"user_agent":{"original":"curl/8"}}'
    )
    flat = (
        '{"@timestamp":"2024-03-05T10:00:02Z","source.ip":"10.0.0.2","http.request.method":"POST",'
        '"http.response.status_code":"404","url.original":"/login","user_agent.original":"UA"}'
    )
    nginx = '{"time_local":"05/Mar/2024:10:00:03 +0000","remote_addr":"10.0.0.3","request":"HEAD / HTTP/1.1","status":301,"http_user_agent":"x"}'
    rows = _parse(spark, "json", ecs, flat, nginx, "not json", '{"url":"/"}')
    got = [(r.client, r.method, r.path, r.query, r.status, r.user_agent, r.reason) for r in rows]
    assert got == [
        ("10.0.0.1", "GET", "/a", "b=1", 200, "curl/8", None),
        ("10.0.0.2", "POST", "/login", None, 404, "UA", None),
        ("10.0.0.3", "HEAD", "/", None, 301, "x", None),
        (None, None, None, None, None, None, "not_json"),
        (None, None, "/", None, None, None, "bad_timestamp"),
    ]
    assert rows[0].ts == datetime(2024, 3, 5, 10, 0, 1, 500000)


def test_json_fields_override_names_the_keys(spark):
    from spark_jobs.parsing.json_lines import parse_json_lines

    df = spark.createDataFrame(
        [('{"t":"2024-03-05T10:00:00Z","peer":"9.9.9.9","u":"/x","s":200}', "f")],
        "value string, source_file string",
    )
    fields = {"time": ["t"], "client": ["peer"], "target": ["u"], "status": ["s"]}
    [row] = parse_json_lines(df, fields).collect()
    assert (row.client, row.path, row.status, row.reason) == ("9.9.9.9", "/x", 200, None)


# --- format: auto -------------------------------------------------------------------------


def _lines_df(spark, lines):
    return spark.createDataFrame([(line,) for line in lines], "value string")


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([COMBINED_LINE] * 5, "combined"),
        ([COMBINED_LINE + ' "-"'] * 5, "combined_extra"),
        (["vh:80 " + COMBINED_LINE] * 5, "vhost_combined"),
        (['h - - [05/Mar/2024:10:00:00 +0000] "GET / HTTP/1.0" 200 5'] * 5, "common"),
        (['{"@timestamp":"2024-03-05T10:00:00Z","url.original":"/"}'] * 5, "json"),
    ],
)
def test_auto_picks_the_preset_that_fits(spark, lines, expected):
    detection = detect_format(_lines_df(spark, [*lines, "garbage"]))
    assert detection.name == expected
    assert detection.sample_lines == len(lines) + 1


def test_auto_refuses_to_guess_on_unknown_logs(spark):
    with pytest.raises(StageFailed, match="set source.log_format"):
        detect_format(_lines_df(spark, ["<134>1 2024 something else"] * 3))


def test_parsed_and_quarantined_split_keeps_every_line(spark):
    df = spark.createDataFrame(
        [(COMBINED_LINE, "f"), ("bad", "f")], "value string, source_file string"
    )
    parsed, bad = split_parsed(parse_lines(df, "combined"))
    assert parsed.count() + bad.count() == 2
    assert bad.select(F.col("reason")).first().reason == "no_match"
    assert parsed.first().ts == datetime(2024, 3, 5, 9, tzinfo=UTC).replace(tzinfo=None)
