"""Intervals without data, through every stage's main() as the DAG runs them.

Unpausing a DAG whose logs ended long ago runs an interval with no log lines: that run must be
green with "no data" in every record and summary, not a red run that looks like a broken
pipeline. A source that matches no file of any interval is a misconfiguration and stays a
failure, and lines that do not parse still fail the gate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spark_jobs import alert, deliver, feature, ingest, score, train, validate
from spark_jobs.lake import layout, storage
from tests.support.builders import run_record, stage_args, usecase_yaml

USE_CASE = "no_data_test"
LINE = '1.2.3.4 - - [{} +0000] "GET /{} HTTP/1.1" 200 5 "-" "curl/8"'
#: The logs end on 17 May; this interval is two weeks later.
LATER = datetime(2015, 6, 1, tzinfo=UTC)
ONE_LINE = (LINE.format("17/May/2015:10:00:00", "a"),)
STAGES = (ingest, validate, feature, train, score, alert)


def _logs(folder, lines=ONE_LINE):
    folder.mkdir(exist_ok=True)
    (folder / "access-2015-05-17.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _args(tmp_path, source_path):
    config = usecase_yaml(tmp_path, USE_CASE, source={"path": source_path, "format": "combined"})
    return stage_args(config, LATER, LATER + timedelta(days=1), tmp_path / "lake")


def _record(spark, tmp_path, stage):
    return run_record(spark, tmp_path / "lake", USE_CASE, LATER, stage)


def test_an_interval_after_the_logs_end_is_green_with_no_data_in_every_stage(
    spark, tmp_path, capsys
):
    logs = _logs(tmp_path / "logs")
    args = _args(tmp_path, f"{logs}/access-{{start:%Y-%m-%d}}.log")
    why = f"no log file of this interval matches {logs}/access-2015-06-01.log"

    for stage in STAGES:
        name = stage.__name__.rsplit(".", 1)[-1]
        assert stage.main(args) == 0, name
        record = _record(spark, tmp_path, name)
        assert (record["outcome"], record["no_data_reason"]) == ("no_data", why), name
    summaries = capsys.readouterr().err
    for stage in STAGES:
        assert f"botwatch {stage.__name__.rsplit('.', 1)[-1]} ok (no data)  use case" in summaries
    assert summaries.count(f"  no data: {why}\n") == len(STAGES)

    lake = str(tmp_path / "lake")
    # ingest wrote its (empty) partitions; nothing was learnt, scored or alerted from nothing
    assert spark.read.parquet(layout.partition_path(lake, "parsed", USE_CASE, LATER)).count() == 0
    for dataset in ("features", "models", "scores", "alerts", "outbox"):
        assert not storage.exists(spark, layout.dataset_path(lake, dataset, USE_CASE)), dataset
    assert _record(spark, tmp_path, "train")["skipped"] is True
    # deliver runs as always (it retries earlier intervals' outbox): nothing to send here
    assert deliver.main(args) == 0
    assert "botwatch deliver ok  use case no_data_test" in capsys.readouterr().err


def test_files_whose_lines_are_all_outside_the_interval_are_no_data(spark, tmp_path):
    logs = _logs(tmp_path / "logs", [LINE.format("17/May/2015:10:00:00", p) for p in "ab"])
    args = _args(tmp_path, f"{logs}/*.log")

    for stage in (ingest, validate, feature):
        assert stage.main(args) == 0
    record = _record(spark, tmp_path, "feature")
    assert record["no_data_reason"] == "all 2 lines of 1 file(s) are outside the interval"
    counts = _record(spark, tmp_path, "ingest")
    assert (counts["read"], counts["out_of_window"], counts["outcome"]) == (2, 2, "no_data")


def test_a_source_without_any_file_is_a_misconfiguration(spark, tmp_path, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    args = _args(tmp_path, f"{folder}/access-{{start:%Y-%m-%d}}.log")

    assert ingest.main(args) == 1
    err = capsys.readouterr().err
    line = f"FAILED: no log file matches {folder}/access-*.log for any interval: check source.path"
    assert line in err


def test_lines_that_do_not_parse_are_data_and_fail_the_gate(spark, tmp_path, capsys):
    logs = _logs(tmp_path / "logs", ["not a log line", "neither is this"])
    args = _args(tmp_path, f"{logs}/*.log")

    assert ingest.main(args) == 0
    assert _record(spark, tmp_path, "ingest")["outcome"] == "ok"
    assert validate.main(args) == 1
    gate = _record(spark, tmp_path, "validate")
    assert gate["success"] is False and gate["outcome"] == "ok"
    assert "parsed 0 < min_parsed_rows 1" in " ".join(gate["failures"])
    assert "botwatch validate FAILED (quality gate)" in capsys.readouterr().err
