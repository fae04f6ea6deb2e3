"""What ``botwatch backtest`` prints, from alert records (no Spark)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from spark_jobs.config.usecase import UseCase
from spark_jobs.reporting import backtest_report
from spark_jobs.reporting.backtest_report import IntervalResult

DAY = datetime(2015, 5, 17, tzinfo=UTC)
NEXT = datetime(2015, 5, 18, tzinfo=UTC)


def _usecase(**extra) -> UseCase:
    return UseCase.model_validate(
        {"id": "uc", "description": "d", "start_date": "2015-05-17",
         "source": {"path": "x/*.log"}, "features": ["requests", "head_share"], **extra}
    )  # fmt: skip


def _raised(entity: str, score: float) -> dict:
    return {"status": "raised", "score": score, "severity": "high", "entity": entity,
            "reason": f"score {score} >= 95: requests 400 (p99)", "suppression": None}  # fmt: skip


def _suppressed(entity: str, why: str) -> dict:
    return {"status": "suppressed", "score": 97.0, "severity": "high", "entity": entity,
            "reason": "score 97", "suppression": why}  # fmt: skip


def test_interval_lines_show_each_alert_with_its_reason_or_suppression():
    result = IntervalResult(DAY, NEXT, seconds=12.4, alerts=[
        _raised("10.0.0.1", 99.2), _suppressed("66.249.66.1", "allowlist: Googlebot range")])  # fmt: skip
    text = backtest_report.interval_lines(_usecase(), result)
    lines = text.splitlines()
    assert lines[0] == "  2015-05-17 00:00  raised 1  suppressed 1  (12 s)"
    assert "raised" in lines[1] and "10.0.0.1: score 99.2 >= 95: requests 400 (p99)" in lines[1]
    assert lines[2].endswith("66.249.66.1: allowlist: Googlebot range")


def test_interval_lines_of_a_failed_interval_name_the_stage_and_its_log():
    result = IntervalResult(DAY, NEXT, failed_stage="validate", seconds=3, log_file="/t/x.log")
    text = backtest_report.interval_lines(_usecase(timezone="Europe/Paris"), result)
    assert text == "  2015-05-17 02:00  FAILED in validate (3 s); log: /t/x.log"


def test_summary_counts_raised_suppressions_by_kind_and_quiet_intervals():
    results = [
        IntervalResult(DAY, NEXT, alerts=[_raised("a", 99.0), _suppressed("b", "realert: 2h ago")]),
        IntervalResult(
            NEXT,
            NEXT,
            alerts=[_suppressed("c", "realert: 1h ago"), _suppressed("d", "verdict: benign (ana)")],
        ),  # fmt: skip
        IntervalResult(NEXT, NEXT, failed_stage="ingest"),
    ]
    text = backtest_report.summary(results, planned=5)
    assert text == (
        "summary: 3 of 5 interval(s) run, 1 failed, 1 without an alert; "
        "raised 1, suppressed 3 (realert 2, verdict 1)"
    )


def test_a_scoped_use_case_shows_what_when_left_out():
    results = [
        IntervalResult(DAY, NEXT, seconds=2, alerts=[_raised("a", 99.0)], scoped_out=4),
        IntervalResult(NEXT, NEXT, seconds=2, scoped_out=0),
    ]
    first = backtest_report.interval_lines(_usecase(), results[0]).splitlines()[0]
    assert first == "  2015-05-17 00:00  raised 1  suppressed 0  scoped out 4  (2 s)"
    assert backtest_report.summary(results, planned=2).endswith(
        "1 without an alert; raised 1, suppressed 0 (none); scoped out 4"
    )


def test_header_states_the_window_threshold_and_that_nothing_is_delivered(tmp_path):
    text = backtest_report.header(_usecase(threshold=97), [(DAY, NEXT)], "/lake-backtest", tmp_path)
    assert text.splitlines()[0] == (
        "backtest uc: 1 interval(s) 2015-05-17 00:00 .. 2015-05-18 00:00 UTC, threshold 97; "
        "nothing is delivered"
    )
    assert backtest_report.header(_usecase(), [], "/l", tmp_path).endswith("those days")


def test_write_jsonl_keeps_every_record(tmp_path):
    out = tmp_path / "alerts.jsonl"
    backtest_report.write_jsonl(str(out), [IntervalResult(DAY, NEXT, alerts=[_raised("a", 99.0)])])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [_raised("a", 99.0)]
