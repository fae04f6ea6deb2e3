"""The validate gate: GE suite on tiny parsed frames, ingest count rules, and the stage end to end.

GE validations cost ~1 s each after a ~15 s first one, so the few frames here are reused.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from spark_jobs import validate
from spark_jobs.config.usecase import QualityConfig
from spark_jobs.features.enrichment import enrich
from spark_jobs.lake import layout, storage
from spark_jobs.lake.records import FileCounts, IngestRecord
from spark_jobs.parsing.quality import check_counts, describe_failure, run_suite
from tests.support.builders import run_record_path, stage_args, usecase_yaml
from tests.support.parsed_rows import PARSED_SCHEMA, parsed_row

START, END = "2015-05-17T00:00:00Z", "2015-05-18T00:00:00Z"


def _row(second, client="83.149.9.216", status=200, method="GET", path="/a", nbytes=512):
    ts = datetime(2015, 5, 17, 10, 5, second)
    return parsed_row(ts, client, method=method, path=path, status=status, nbytes=nbytes)


GOOD_ROWS = [
    _row(1),
    _row(2, method="HEAD", nbytes=None),  # no body: bytes is null, which is allowed
    _row(3, client="66.249.73.135", path="/robots.txt", status=404),
    _row(4, method=None, path=None, status=400),  # request "-": method/path null
]
BAD_ROWS = [*GOOD_ROWS, _row(5, status=999), _row(6, client=None)]


def test_suite_passes_on_good_parsed_rows(spark):
    outcome = run_suite(spark.createDataFrame(GOOD_ROWS, PARSED_SCHEMA), "parsed_logs")

    assert outcome["success"], outcome["failed"]
    assert outcome["failed"] == []
    stats = outcome["result"]["statistics"]
    assert stats["evaluated_expectations"] == stats["successful_expectations"] > 10
    json.dumps(outcome["result"])  # goes to the lake as JSON


def test_suite_fails_on_bad_rows_and_names_the_expectations(spark):
    outcome = run_suite(spark.createDataFrame(BAD_ROWS, PARSED_SCHEMA), "parsed_logs")

    assert not outcome["success"]
    failed = {(f["expectation"], f["column"]): f for f in outcome["failed"]}
    assert set(failed) == {("expect_column_values_to_be_between", "status")}
    # a line without a client is fine in general, not when the client is the entity
    client = run_suite(spark.createDataFrame(BAD_ROWS, PARSED_SCHEMA), "client_entity")
    assert [(f["expectation"], f["column"]) for f in client["failed"]] == [
        ("expect_column_values_to_not_be_null", "client")
    ]
    status = failed[("expect_column_values_to_be_between", "status")]
    assert status["observed"] == {"unexpected_count": 1, "element_count": 6, "examples": [999]}
    assert "parse error" in status["notes"]


def test_suite_reports_missing_column_and_wrong_type(spark):
    df = spark.createDataFrame(GOOD_ROWS, PARSED_SCHEMA).drop("source_file")
    df = df.withColumn("status", df["status"].cast("string"))

    outcome = run_suite(df, "parsed_logs")

    lines = sorted(describe_failure(f) for f in outcome["failed"])
    assert lines[0] == "expect_column_values_to_be_between(status) raised " + repr(
        "ColumnValuesBetween metrics cannot be computed on column of type StringType()."
    )
    assert lines[1] == "expect_column_values_to_be_of_type(status): observed 'StringType'"
    assert "source_file" in lines[2] and "does not exist" in lines[2]
    assert lines[3] == "expect_table_columns_to_match_set: observed {'missing': ['source_file']}"


def _counts(read=100, parsed=95, quarantined=3, out_of_window=2, **fields):
    counts = {"read": read, "parsed": parsed, "quarantined": quarantined}
    return IngestRecord(**counts, out_of_window=out_of_window, **fields)


LOST = FileCounts(source_file="a.log", read=5, parsed=3, quarantined=1, out_of_window=0)
CUT = FileCounts(source_file="b.gz", read=1, parsed=0, quarantined=1, out_of_window=0)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (_counts(), []),
        (_counts(parsed=90, quarantined=8), ["quarantined ratio 0.0800 (8/100)"]),
        (
            _counts(read=0, parsed=0, quarantined=0, out_of_window=0),
            ["parsed 0 < min_parsed_rows 1"],
        ),
        (_counts(parsed=94), ["read 100 != parsed 94 + quarantined 3 + out_of_window 2"]),
        (_counts(files=[LOST]), ["a.log: lines lost or counted twice"]),
        (_counts(files=[CUT.model_copy(update={"truncated": True})]), ["truncated compressed"]),
    ],
)
def test_check_counts(record, expected):
    failures = check_counts(record, QualityConfig(max_quarantined_ratio=0.05, min_parsed_rows=1))

    assert len(failures) == len(expected)
    for failure, start in zip(failures, expected, strict=True):
        assert failure.startswith(start), failure


def _write_interval(spark, lake_root, rows, ingest_record=None):
    start = datetime.fromisoformat(START)
    parsed = layout.partition_path(lake_root, "parsed", "gate_test", start)
    # through the real enrichment, as ingest writes it, so every default suite has its columns
    df = enrich(spark.createDataFrame(rows, PARSED_SCHEMA))
    df.coalesce(1).write.mode("overwrite").parquet(parsed)
    n = len(rows)
    # A record as a test writes it by hand: the four counts and nothing else.
    record = ingest_record or {"read": n, "parsed": n, "quarantined": 0, "out_of_window": 0}
    storage.write_json(spark, run_record_path(lake_root, "gate_test", start, "ingest"), record)


def test_validate_main_passes_good_and_stops_bad_interval(spark, tmp_path):
    config, lake_root = usecase_yaml(tmp_path, "gate_test"), str(tmp_path / "lake")
    argv = stage_args(config, START, END, lake_root)
    start = datetime.fromisoformat(START)
    runs = layout.partition_path(lake_root, "runs", "gate_test", start)
    result_path = (
        f"{layout.partition_path(lake_root, 'validation', 'gate_test', start)}/parsed_logs.json"
    )

    _write_interval(spark, lake_root, GOOD_ROWS)
    assert validate.main(argv) == 0
    record = storage.read_json(spark, f"{runs}/validate.json")
    assert record["success"] is True
    assert set(record) == {"stage", "use_case", "interval_start", "interval_end", "outcome",
                           "success", "failures", "suites", "counts"}  # fmt: skip
    assert record["counts"] == {"read": 4, "parsed": 4, "quarantined": 0, "out_of_window": 0}
    assert storage.read_json(spark, result_path)["success"] is True

    _write_interval(spark, lake_root, BAD_ROWS)
    assert validate.main(argv) == 1
    record = storage.read_json(spark, f"{runs}/validate.json")
    assert record["success"] is False
    assert any("not_be_null(client)" in line for line in record["failures"]), record["failures"]
    assert storage.read_json(spark, result_path)["success"] is False


def test_validate_main_stops_on_an_ingest_record_without_counts(spark, tmp_path):
    config, lake_root = usecase_yaml(tmp_path, "gate_test"), str(tmp_path / "lake")
    _write_interval(spark, lake_root, GOOD_ROWS, ingest_record={"read": 4})

    assert validate.main(stage_args(config, START, END, lake_root)) == 1
    start = datetime.fromisoformat(START)
    record = storage.read_json(spark, run_record_path(lake_root, "gate_test", start, "validate"))
    [line] = [f for f in record["failures"] if f.startswith("counts: ")]
    assert line.startswith("counts: ingest run record lacks an integer count: IngestRecord: ")
    assert "parsed: Field required" in line
    assert record["counts"] == {
        "read": 4,
        "parsed": None,
        "quarantined": None,
        "out_of_window": None,
    }
