"""The shared text and number helpers: the outputs every report, sink and ledger relies on."""

from __future__ import annotations

import pytest

from spark_jobs.reporting.text import (
    DASH,
    cap,
    fmt_fixed,
    fmt_num,
    fmt_pct,
    fmt_spec,
    one_line,
    show_controls,
    squash,
)


def test_cap_marks_a_cut_and_keeps_the_limit():
    assert cap("short", 10) == "short"
    assert cap("abcdefghij", 5) == "abcd…"
    assert len(cap("x" * 50, 7)) == 7
    assert cap("abc", 0) == ""
    assert cap(None, 5) is None
    assert cap("abcdefghij", 6, ellipsis="...") == "abc..."  # the quality summaries' ASCII cut


def test_squash_puts_any_whitespace_on_one_line():
    assert squash("  a\n\tb \r\n c  ") == "a b c"
    assert squash("") == ""


def test_one_line_keeps_breaks_visible_and_drops_bidi():
    assert one_line("a\r\nb\nc\rd\u2028e\x85f") == "a⏎b⏎c⏎d⏎e⏎f"
    assert one_line("tab\there\x00nul\x7f") == "tab here nul "
    assert one_line("evil\u202egnp.exe") == "evilgnp.exe"
    assert one_line(None) == "" and one_line(42) == "42"
    assert one_line("x" * 100, 10) == "x" * 9 + "…"


def test_show_controls_escapes_what_would_hide_or_reorder_text():
    assert show_controls("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert show_controls("x\u202ey\u200bz\x00") == "x\\u202ey\\u200bz\\u0000"
    assert show_controls("plain ü text") == "plain ü text"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (75, "75"),
        (0.56, "0.56"),
        (99.6, "99.6"),
        (523.74, "523.7"),
        (1234.5678, "1234.6"),
        (0.000123456, "0.000123"),
        (-2.5, "-2.5"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        (True, "True"),
        ("a\nb", "a⏎b"),
    ],
)
def test_fmt_num(value, text):
    assert fmt_num(value) == text


def test_fmt_num_missing_value():
    assert fmt_num(None) == ""
    assert fmt_num(None, none="null") == "null"


def test_fmt_spec_formats_numbers_and_says_none_otherwise():
    assert fmt_spec(1234567) == "1,234,567"
    assert fmt_spec("12.5", ".1f") == "12.5"  # numeric text is a number
    assert fmt_spec(0.25, ".0%") == "25%"
    assert fmt_spec(95.0, "g") == "95"
    assert fmt_spec(None) is None and fmt_spec("n/a") is None and fmt_spec([1]) is None


def test_fixed_and_percent_for_metric_tables():
    assert fmt_fixed(0.91666) == "0.917" and fmt_fixed(1, digits=1) == "1.0"
    assert fmt_fixed(None) == DASH == "–"
    assert fmt_pct(0.02) == "2%" and fmt_pct(1 / 3) == "33.3%" and fmt_pct(0.0013) == "0.13%"
    assert fmt_pct(None) == DASH
