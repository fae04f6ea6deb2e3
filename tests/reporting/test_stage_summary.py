"""The stage summary block: built from tiny run records, no Spark."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from spark_jobs.lake import records as rec
from spark_jobs.reporting.stage_summary import (
    StageSummary,
    emit,
    interval_text,
    took_text,
    written_paths,
)

START = datetime(2015, 5, 17, tzinfo=UTC)
END = START + timedelta(days=1)


def _partition(dataset: str) -> str:
    return f"/lake/{dataset}/use_case=uc/interval=20150517T000000Z"


def _ingest(**fields):
    files = [rec.FileCounts(source_file="a.gz", read=10_000, parsed=9_870, quarantined=12,
                            out_of_window=118)]  # fmt: skip
    return rec.IngestRecord.of_files(files, globs=["/logs/*.gz"], **fields)


def _summary(record, failure=None, timezone="UTC", took=31.24):
    return StageSummary(
        stage=record.STAGE, use_case="uc", start=START, end=END, timezone=timezone,
        took_s=took, record=record, wrote=written_paths(record, _partition), failure=failure,
    )  # fmt: skip


def test_an_ingest_that_ran_says_interval_counts_where_and_how_long():
    assert _summary(_ingest(), timezone="America/New_York").lines() == [
        "botwatch ingest ok  use case uc",
        "  interval  2015-05-17 00:00 → 2015-05-18 00:00 UTC (24 h)  =  "
        "2015-05-16 20:00 → 2015-05-17 20:00 America/New_York",
        "  counts    read 10,000  parsed 9,870  quarantined 12  out of window 118"
        "  truncated files 0",
        "  wrote     /lake/parsed/use_case=uc/interval=20150517T000000Z  (+ quarantine)",
        "  took      31.2 s",
    ]


@pytest.mark.parametrize(
    ("start", "end", "zone", "expected"),
    [
        # a UTC use case shows UTC only
        (START, END, "UTC", "2015-05-17 00:00 → 2015-05-18 00:00 UTC (24 h)"),
        # east of UTC: the local day starts the UTC evening before
        (
            datetime(2024, 1, 1, tzinfo=ZoneInfo("Asia/Kolkata")),
            datetime(2024, 1, 2, tzinfo=ZoneInfo("Asia/Kolkata")),
            "Asia/Kolkata",
            "2023-12-31 18:30 → 2024-01-01 18:30 UTC (24 h)  =  "
            "2024-01-01 00:00 → 2024-01-02 00:00 Asia/Kolkata",
        ),
        # the spring-forward day of New York is 23 hours long
        (
            datetime(2014, 3, 9, tzinfo=ZoneInfo("America/New_York")),
            datetime(2014, 3, 10, tzinfo=ZoneInfo("America/New_York")),
            "America/New_York",
            "2014-03-09 05:00 → 2014-03-10 04:00 UTC (23 h)  =  "
            "2014-03-09 00:00 → 2014-03-10 00:00 America/New_York",
        ),
        # the fall-back day of Berlin is 25 hours long; an hourly interval shows in minutes
        (
            datetime(2024, 10, 26, 22, tzinfo=UTC),
            datetime(2024, 10, 27, 23, tzinfo=UTC),
            "Europe/Berlin",
            "2024-10-26 22:00 → 2024-10-27 23:00 UTC (25 h)  =  "
            "2024-10-27 00:00 → 2024-10-28 00:00 Europe/Berlin",
        ),
        (
            datetime(2024, 1, 1, 10, tzinfo=UTC),
            datetime(2024, 1, 1, 10, 15, tzinfo=UTC),
            "UTC",
            "2024-01-01 10:00 → 2024-01-01 10:15 UTC (15 min)",
        ),
    ],
)
def test_the_interval_is_shown_in_utc_and_in_the_use_cases_zone(start, end, zone, expected):
    assert interval_text(start, end, zone) == expected


def test_wall_time_reads_in_seconds_then_minutes():
    assert [took_text(s) for s in (0.04, 31.25, 119.9, 151.2)] == [
        "0.0 s", "31.2 s", "119.9 s", "2 min 31 s",
    ]  # fmt: skip


def test_a_failed_gate_is_said_to_be_the_quality_gate():
    gate = rec.ValidateRecord(
        success=False,
        failures=["counts: parsed 0 < min_parsed_rows 1"],
        suites={"parsed_logs": rec.SuiteOutcome(success=True)},
    )
    lines = _summary(gate, failure="1 quality check(s) failed: counts: parsed 0").lines()

    assert lines[0] == "botwatch validate FAILED (quality gate)  use case uc"
    assert lines[1] == "  FAILED: quality gate: 1 quality check(s) failed: counts: parsed 0"
    assert "  counts    suites passed 1/1  failed checks 1" in lines


def test_a_failure_without_a_record_names_the_reason_on_one_line():
    summary = StageSummary("ingest", "uc", START, END, "UTC", 2.0, failure="no log\nfile matches x")

    assert summary.lines() == [
        "botwatch ingest FAILED  use case uc",
        "  FAILED: no log file matches x",
        "  interval  2015-05-17 00:00 → 2015-05-18 00:00 UTC (24 h)",
        "  took      2.0 s",
    ]


def test_a_failure_that_is_not_the_gate_is_a_plain_failure_even_with_a_passing_record():
    lines = _summary(_ingest(), failure="boom").lines()
    assert lines[:2] == ["botwatch ingest FAILED  use case uc", "  FAILED: boom"]


def test_a_very_long_reason_is_cut():
    line = _summary(_ingest(), failure="x" * 5_000).lines()[1]
    assert len(line) < 500 and line.endswith("…")


def test_a_later_stage_without_data_says_why_and_wrote_only_its_record():
    record = rec.FeatureRecord.of_no_data("all 10,000 lines of 1 file(s) are outside the interval")
    lines = _summary(record).text().splitlines()

    assert lines[0] == "botwatch feature ok (no data)  use case uc"
    assert lines[1] == "  no data: all 10,000 lines of 1 file(s) are outside the interval"
    assert "  counts    sessions 0  entities 0  unattributed rows 0" in lines
    assert "  wrote     /lake/runs/use_case=uc/interval=20150517T000000Z/feature.json" in lines


def test_an_ingest_without_data_shows_the_empty_partitions_it_wrote():
    record = rec.IngestRecord.of_files([], outcome="no_data", no_data_reason="no file")
    lines = _summary(record).lines()

    assert lines[:2] == ["botwatch ingest ok (no data)  use case uc", "  no data: no file"]
    assert any(line.startswith("  wrote     /lake/parsed/") for line in lines)


def test_other_outputs_of_a_record_follow_its_partition():
    alert = rec.AlertRecord(candidates=3, alerts=2, suppressed=1, capped=0, outbox_alerts=2,
                            outbox="/lake/outbox/x/alerts.jsonl", report="/lake/reports/x.html")  # fmt: skip
    lines = _summary(alert).lines()

    wrote = lines.index("  wrote     /lake/alerts/use_case=uc/interval=20150517T000000Z")
    assert lines[wrote + 1 : wrote + 3] == [
        "            /lake/outbox/x/alerts.jsonl",
        "            /lake/reports/x.html",
    ]
    assert "  counts    candidates 3  alerts 2  suppressed 1  capped 0  outbox alerts 2" in lines


def test_a_skipped_train_says_which_model_serves_and_why():
    train = rec.TrainRecord(skipped=True, reason="champion is fresh", model_version="v1")
    counts = _summary(train).lines()[2]
    assert counts == "  counts    model version v1  reason champion is fresh"


def test_emit_prints_to_stderr_or_logs_each_line_in_order(capsys, caplog):
    summary = _summary(_ingest())
    emit(summary)
    assert capsys.readouterr().err == summary.text() + "\n"
    with caplog.at_level(logging.INFO, logger="botwatch.test"):
        emit(summary, logging.getLogger("botwatch.test"))
    assert [r.getMessage() for r in caplog.records] == summary.lines()
    assert capsys.readouterr().err == ""


def test_the_took_line_shows_where_the_time_went():
    summary = _summary(_ingest())
    timed = StageSummary(**{**summary.__dict__, "phases": (("before main", 1.25), ("session", 0.4),
                                                           ("work", 30.84))})  # fmt: skip
    assert (
        timed.lines()[-1] == "  took      31.2 s  (before main 1.2 s, session 0.4 s, work 30.8 s)"
    )
