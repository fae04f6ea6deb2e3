"""The ingest stage end to end, in-process on the shared session: files in, partitions out."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

from spark_jobs import ingest
from spark_jobs.lake import layout
from spark_jobs.parsing.schema import PARSED_SCHEMA, QUARANTINE_SCHEMA
from tests.support.builders import run_record, stage_args, usecase_yaml
from tests.support.paths import SAMPLE_LOG

START = datetime(2015, 5, 18, tzinfo=UTC)


def _config(tmp_path, source_path, fmt="combined"):
    return usecase_yaml(tmp_path, "ingest_test", source={"path": source_path, "format": fmt})


def _run(tmp_path, config, start="2015-05-18T00:00:00Z", end="2015-05-19T00:00:00Z"):
    lake_root = str(tmp_path / "lake")
    return ingest.main(stage_args(config, start, end, lake_root)), lake_root


def _record(spark, lake_root):
    return run_record(spark, lake_root, "ingest_test", START, "ingest")


def test_ingest_writes_parsed_quarantine_and_run_record(spark, tmp_path, capsys):
    line = '1.2.3.4 - - [{} +0000] "GET /{} HTTP/1.1" 200 5 "-" "curl/8"'
    with gzip.open(tmp_path / "access.log.gz", "wt", encoding="utf-8") as fh:
        fh.write(line.format("17/May/2015:23:59:59", "before") + "\n")
        fh.write(line.format("18/May/2015:00:00:00", "first") + "\n")
        fh.write(line.format("18/May/2015:23:59:59", "last") + "\r\n")
        fh.write("not a log line\n")
        fh.write(line.format("19/May/2015:00:00:00", "after") + "\n")

    code, lake_root = _run(tmp_path, _config(tmp_path, tmp_path / "*.gz"))

    assert code == 0
    parsed = spark.read.parquet(layout.partition_path(lake_root, "parsed", "ingest_test", START))
    # the parse columns first, then the enrichment ones
    assert parsed.schema.fields[: len(PARSED_SCHEMA)] == PARSED_SCHEMA.fields
    assert {"ua_family", "is_declared_crawler", "path_class", "client_prefix"} <= set(
        parsed.columns
    )
    assert sorted(r.path for r in parsed.collect()) == ["/first", "/last"]
    quarantine = spark.read.parquet(
        layout.partition_path(lake_root, "quarantine", "ingest_test", START)
    )
    assert quarantine.schema == QUARANTINE_SCHEMA
    assert [(r.line_no, r.line, r.reason) for r in quarantine.collect()] == [
        (4, "not a log line", "no_match")
    ]
    record = _record(spark, lake_root)
    counts = {k: record[k] for k in ("read", "parsed", "quarantined", "out_of_window")}
    assert counts == {"read": 5, "parsed": 2, "quarantined": 1, "out_of_window": 2}
    [per_file] = record["files"]
    assert per_file["source_file"].endswith("/access.log.gz")
    assert {k: per_file[k] for k in counts} == counts
    assert record["globs"] == [str(tmp_path / "*.gz")]
    assert record["format"] == "combined"
    assert record["out_of_window_policy"] == "keep"
    assert record["outcome"] == "ok"
    summary = capsys.readouterr().err
    assert "botwatch ingest ok  use case ingest_test\n" in summary
    assert "  interval  2015-05-18 00:00 → 2015-05-19 00:00 UTC (24 h)\n" in summary
    assert "  counts    read 5  parsed 2  quarantined 1  out of window 2" in summary
    parsed_path = layout.partition_path(lake_root, "parsed", "ingest_test", START)
    assert f"  wrote     {parsed_path}  (+ quarantine)\n" in summary


def test_the_next_day_selects_its_lines_from_the_store_without_parsing_again(spark, tmp_path):
    """A monthly file read by daily runs is parsed by the first one only."""
    line = '1.2.3.4 - - [{} +0000] "GET /{} HTTP/1.1" 200 5 "-" "curl/8"'
    log = tmp_path / "month.log"
    log.write_text(
        "\n".join(
            line.format(t, p)
            for t, p in [("18/May/2015:10:00:00", "a"), ("19/May/2015:10:00:00", "b")]
        )
        + "\ngarbage\n"
    )
    config = _config(tmp_path, log)
    _, lake_root = _run(tmp_path, config)
    [manifest] = (tmp_path / "lake" / "sources").glob("*/manifest/*.json")
    taken = manifest.read_text()

    code, _ = _run(tmp_path, config, "2015-05-19T00:00:00Z", "2015-05-20T00:00:00Z")

    assert code == 0
    assert manifest.read_text() == taken  # not taken again
    day = datetime(2015, 5, 19, tzinfo=UTC)
    parsed = spark.read.parquet(layout.partition_path(lake_root, "parsed", "ingest_test", day))
    assert [r.path for r in parsed.collect()] == ["/b"]
    record = run_record(spark, lake_root, "ingest_test", day, "ingest")
    counts = {k: record[k] for k in ("read", "parsed", "quarantined", "out_of_window")}
    # the garbage line has no time: every interval that reads the file reports it
    assert counts == {"read": 3, "parsed": 1, "quarantined": 1, "out_of_window": 1}
    quarantine = spark.read.parquet(
        layout.partition_path(lake_root, "quarantine", "ingest_test", day)
    )
    assert [(r.line_no, r.line) for r in quarantine.collect()] == [(3, "garbage")]


def test_ingest_of_a_glob_without_files_fails_naming_it(spark, tmp_path, caplog, capsys):
    code, _ = _run(tmp_path, _config(tmp_path, tmp_path / "missing-*.gz"))
    assert code == 1
    assert f"no log file matches {tmp_path}/missing-*.gz for any interval" in caplog.text
    assert "botwatch ingest FAILED  use case ingest_test\n  FAILED: no log file" in (
        capsys.readouterr().err
    )


def test_ingest_of_the_real_sample_parses_every_line_of_the_day(spark, tmp_path):
    code, lake_root = _run(tmp_path, _config(tmp_path, SAMPLE_LOG))

    assert code == 0
    record = _record(spark, lake_root)
    # 10,000 lines from 2015-05-17 10:05 to 2015-05-20 21:05 UTC; 2,893 are stamped 18/May.
    assert record["read"] == 10_000
    assert record["quarantined"] == 0
    assert record["parsed"] == 2_893
    assert record["read"] == record["parsed"] + record["quarantined"] + record["out_of_window"]
    parsed = spark.read.parquet(layout.partition_path(lake_root, "parsed", "ingest_test", START))
    assert parsed.where("method IS NULL OR status IS NULL").count() == 0
