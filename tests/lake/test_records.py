"""Typed run records write the keys the stages always wrote, and read what they wrote back.

Spark-free: records are plain JSON objects; the stage tests check the files on a real lake.
"""

from __future__ import annotations

import json

import pytest

from spark_jobs.lake import records as rec

HEADER = {"use_case": "uc", "interval_start": "2024-03-05T10:00:00+00:00"}
HEADER["interval_end"] = "2024-03-05T11:00:00+00:00"


def _file(name="a.log", read=5, parsed=3, quarantined=1, out_of_window=1, **kw):
    return rec.FileCounts(
        source_file=name,
        read=read,
        parsed=parsed,
        quarantined=quarantined,
        out_of_window=out_of_window,
        **kw,
    )


def test_ingest_record_sums_its_files_and_writes_the_ingest_keys():
    files = [_file(reasons={"no_match": 1}), _file("b.log.gz", 2, 1, 1, 0, truncated=True)]
    record = rec.IngestRecord.of_files(
        files, format="combined", format_detection=None, out_of_window_policy="keep",
        globs=["/logs/*"], **HEADER,
    )  # fmt: skip

    data = record.to_json()

    assert set(data) == {
        "stage", "use_case", "interval_start", "interval_end", "outcome", "read", "parsed",
        "quarantined", "out_of_window", "truncated_files", "format", "format_detection",
        "out_of_window_policy", "files", "globs",
    }  # fmt: skip
    assert data["stage"] == "ingest"
    assert record.counts() == {"read": 7, "parsed": 4, "quarantined": 2, "out_of_window": 1}
    assert (data["truncated_files"], data["format_detection"]) == (1, None)
    assert set(data["files"][0]) == {
        "source_file", "read", "parsed", "quarantined", "out_of_window", "truncated", "reasons",
    }  # fmt: skip
    json.dumps(data)


def test_included_lines_are_counted_as_parsed_and_said_so():
    included = _file().included()

    assert (included.parsed, included.out_of_window) == (4, 0)
    assert included.to_json()["included_out_of_window"] == 1
    assert not included.lost_or_double()
    assert "included_out_of_window" not in _file().to_json()


@pytest.mark.parametrize(
    "record",
    [
        rec.IngestRecord.of_files([_file()], format="combined", globs=["x"], **HEADER),
        rec.ValidateRecord(
            success=True,
            suites={"parsed_logs": rec.SuiteOutcome(success=True, failed=[])},
            counts={"read": 1, "parsed": 1, "quarantined": 0, "out_of_window": 0},
            **HEADER,
        ),
        rec.FeatureRecord(
            sessions=3,
            entities=2,
            unattributed_rows=0,
            entity_key="client",
            session_gap_minutes=30.0,
            output="/lake/features",
            **HEADER,
        ),  # fmt: skip
        rec.TrainRecord(skipped=True, reason="fresh", model_version="v1", **HEADER),
        rec.ScoreRecord(model_version="v1", sessions=3, entities=2, max=99.5, p50=10.0),
        rec.AlertRecord(candidates=3, alerts=1, suppressed=1, capped=1, outbox="/o", report=None),
        rec.DeliverRecord(delivered=1, failed=0, sinks=[{"name": "file", "delivered": 1}]),
    ],
    ids=lambda r: r.STAGE,
)
def test_every_record_reads_back_what_it_wrote(record):
    data = json.loads(json.dumps(record.to_json()))

    assert data["stage"] == record.STAGE
    assert rec.RECORD_TYPES[record.STAGE].from_json(data) == record


def test_keys_written_only_sometimes_stay_out_when_none():
    gate = rec.ValidateRecord(success=False, failures=["no parsed partition"]).to_json()
    assert set(gate) == {"stage", "use_case", "interval_start", "interval_end", "outcome",
                         "success", "failures", "suites"}  # fmt: skip
    skipped = rec.TrainRecord(skipped=True, reason="fresh", model_version="v1").to_json()
    assert not {"intervals", "training_metrics", "labels", "output"} & set(skipped)
    alert = rec.AlertRecord(candidates=0, alerts=0, suppressed=0, capped=0).to_json()
    assert alert["report"] is None  # always written, null when reports are off


def test_unknown_keys_are_ignored_and_strings_of_digits_are_counts():
    data = {"stage": "ingest", "read": "4", "parsed": 4, "quarantined": 0, "out_of_window": 0}
    record = rec.IngestRecord.from_json({**data, "written_by": "a newer botwatch"})

    assert record.counts() == {"read": 4, "parsed": 4, "quarantined": 0, "out_of_window": 0}
    assert record.files == [] and record.use_case is None


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({"read": 1}, ["parsed: Field required", "quarantined", "out_of_window"]),
        ({"read": 1, "parsed": None, "quarantined": 0, "out_of_window": 0}, ["parsed:"]),
        (
            {
                "read": 1,
                "parsed": 1,
                "quarantined": 0,
                "out_of_window": 0,
                "files": [{"source_file": "a", "read": "x"}],
            },
            ["files.0.read: Input should be a valid integer"],
        ),  # fmt: skip
    ],
)
def test_a_malformed_record_names_what_is_wrong(data, names):
    with pytest.raises(rec.RecordError) as raised:
        rec.IngestRecord.from_json(data)
    assert str(raised.value).startswith("IngestRecord: ")
    for name in names:
        assert name in str(raised.value)


def test_a_record_that_is_not_an_object_is_a_record_error():
    with pytest.raises(rec.RecordError):
        rec.AlertRecord.from_json([1, 2])  # type: ignore[arg-type]


# Ingest decides "no data" itself, from its counts; deliver always runs.
@pytest.mark.parametrize(
    "kind", [k for s, k in rec.RECORD_TYPES.items() if s not in ("ingest", "deliver")],
    ids=lambda k: k.STAGE,
)  # fmt: skip
def test_every_later_stage_has_a_no_data_record_that_reads_back(kind):
    record = kind.of_no_data("all 4 lines are outside the interval", **HEADER)
    data = json.loads(json.dumps(record.to_json()))

    assert (data["outcome"], data["no_data_reason"]) == (
        "no_data", "all 4 lines are outside the interval",
    )  # fmt: skip
    assert kind.from_json(data) == record
    assert all(v == 0 for v in record.summary_counts().values() if isinstance(v, int))


def test_a_record_of_a_run_that_did_its_work_says_ok_and_no_reason():
    data = rec.ScoreRecord(sessions=1, entities=1).to_json()
    assert data["outcome"] == "ok" and "no_data_reason" not in data
    older = {k: v for k, v in data.items() if k != "outcome"}  # written before outcomes existed
    assert rec.ScoreRecord.from_json(older).outcome == "ok"
    with pytest.raises(rec.RecordError, match="outcome"):
        rec.ScoreRecord.from_json({**data, "outcome": "maybe"})


def test_a_no_data_validate_record_is_no_gate_failure():
    assert not rec.ValidateRecord.of_no_data("no lines").gate_failed()
    assert rec.ValidateRecord(success=False).gate_failed()
