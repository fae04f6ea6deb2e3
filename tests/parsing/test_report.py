"""``botwatch parse``: the counts and examples a user sees, from the ingest stage's own code."""

from __future__ import annotations

import bz2
import json

import pytest

from spark_jobs import cli

LINE = '10.0.0.{} - - [05/Mar/2024:10:00:00 +0000] "GET /{} HTTP/1.1" 200 5 "-" "curl/8"'


def test_parse_json_report_counts_every_line_and_shows_an_example(spark, tmp_path, capsys):
    (tmp_path / "a.log").write_text(
        f"{LINE.format(1, 'a')}\nnot a log line\n{LINE.format(2, 'b')}\n"
    )
    (tmp_path / "b.log.bz2").write_bytes(bz2.compress(f"{LINE.format(3, 'c')}\n".encode()))

    assert cli.main(["parse", "--format", "auto", "--json", str(tmp_path / "*")]) == 0

    result = json.loads(capsys.readouterr().out)
    assert (result["format"], result["read"], result["parsed"], result["quarantined"]) == (
        "combined", 4, 3, 1,
    )  # fmt: skip
    by_name = {f["source_file"].rsplit("/", 1)[1]: f for f in result["files"]}
    [reason] = by_name["a.log"]["top_reasons"]
    assert reason == {
        "reason": "no_match",
        "lines": 1,
        "example": {"line_no": 2, "line": "not a log line"},
    }
    assert by_name["b.log.bz2"]["parsed_share"] == 1.0


def test_parse_text_report_with_a_log_format(spark, tmp_path, capsys):
    (tmp_path / "a.log").write_text('1.2.3.4 [05/Mar/2024:10:00:00 +0000] "GET / HTTP/1.1" 404\n')
    fmt = '%h %t "%r" %>s'
    assert cli.main(["parse", "--log-format", fmt, str(tmp_path / "a.log")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"format: custom: {fmt}"
    assert "read 1  parsed 1 (100.000%)  quarantined 0" in out


def test_parse_refuses_a_format_string_it_cannot_read(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["parse", "--log-format", "%h %t %{Referer", "x.log"])
    assert info.value.code == 2
    assert "cannot read the directive" in capsys.readouterr().err
