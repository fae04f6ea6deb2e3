"""Expected alerts of a backtest: load, compare, write back (no Spark)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from spark_jobs.reporting import backtest_expect
from spark_jobs.reporting.backtest_report import IntervalResult

DAY = datetime(2004, 5, 1, tzinfo=UTC)
NEXT = datetime(2004, 5, 2, tzinfo=UTC)
KEY = "2004-05-01T00:00:00Z"


def _record(entity: str, status: str = "raised", suppression: str | None = None) -> dict:
    return {"entity": entity, "status": status, "suppression": suppression,
            "interval_start": KEY, "score": 99.0}  # fmt: skip


def _write(tmp_path, text: str):
    path = tmp_path / "expected.yaml"
    path.write_text(text, encoding="utf-8")
    return path


EXPECTED = f"""
use_case: vuln_scanners
from: 2004-05-01
to: 2004-05-02
env: {{BOTWATCH_LOGS: access.log.gz, OTHER: /abs/labels.txt}}
intervals:
  "{KEY}":
    raised: [10.0.0.1, 10.0.0.2]
    suppressed: {{66.249.66.1: allowlist}}
"""


def test_a_run_that_matches_has_no_differences(tmp_path):
    expectation = backtest_expect.load(_write(tmp_path, EXPECTED))
    results = [
        IntervalResult(DAY, NEXT, alerts=[
            _record("10.0.0.2"), _record("10.0.0.1"),
            _record("66.249.66.1", "suppressed", "allowlist: Googlebot (cidr 66.249.64.0/19)")]),
        IntervalResult(NEXT, NEXT, alerts=[]),  # nothing expected, nothing raised
    ]  # fmt: skip
    assert backtest_expect.differences(expectation, results) == []


def test_each_difference_is_one_line_naming_interval_and_entity(tmp_path):
    expectation = backtest_expect.load(_write(tmp_path, EXPECTED))
    results = [
        IntervalResult(DAY, NEXT, alerts=[
            _record("10.0.0.1"), _record("10.0.0.9"),
            _record("66.249.66.1", "suppressed", "realert: alerted for interval ...")]),
        IntervalResult(NEXT, NEXT, failed_stage="validate"),
    ]  # fmt: skip
    assert backtest_expect.differences(expectation, results) == [
        "2004-05-02T00:00:00+00:00: the validate stage failed",
        f"{KEY}: 10.0.0.2 expected raised, was not",
        f"{KEY}: 10.0.0.9 raised, not expected",
        f"{KEY}: 66.249.66.1 expected suppressed by allowlist, was suppressed by realert",
    ]


def test_env_paths_are_relative_to_the_file_and_restored_after(tmp_path, monkeypatch):
    path = _write(tmp_path, EXPECTED)
    env = backtest_expect.resolved_env(backtest_expect.load(path), path)
    assert env == {"BOTWATCH_LOGS": str(tmp_path / "access.log.gz"), "OTHER": "/abs/labels.txt"}
    monkeypatch.setenv("OTHER", "before")
    monkeypatch.delenv("BOTWATCH_LOGS", raising=False)
    with backtest_expect.environment(env):
        assert os.environ["BOTWATCH_LOGS"] == str(tmp_path / "access.log.gz")
    assert os.environ["OTHER"] == "before" and "BOTWATCH_LOGS" not in os.environ


def test_written_file_loads_back_and_matches_its_run(tmp_path, monkeypatch):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_text("x\n")
    (tmp_path / "fixture").mkdir()
    monkeypatch.setenv("BOTWATCH_LOGS", str(tmp_path / "logs" / "a.log"))
    monkeypatch.setenv("BOTWATCH_LABELS", "s3a://bucket/labels.csv")
    text = "path: ${BOTWATCH_LOGS:-x} ${UNSET_VAR} ${BOTWATCH_LABELS}"
    env = backtest_expect.referenced_env(text, tmp_path / "fixture")
    # files written relative to the expectation's folder, so a clone elsewhere finds them
    assert env == {"BOTWATCH_LOGS": "../logs/a.log", "BOTWATCH_LABELS": "s3a://bucket/labels.csv"}
    new = backtest_expect.Expectation.model_validate(
        {"use_case": "uc", "from": "2004-05-01", "to": "2004-05-01", "env": env}
    )
    results = [IntervalResult(DAY, NEXT, alerts=[
        _record("b"), _record("a"), _record("c", "suppressed", "verdict: false positive")])]  # fmt: skip
    text = backtest_expect.dump(new, results)
    assert text.startswith("# Expected alerts of use case uc")
    again = backtest_expect.load(_write(tmp_path, text))
    assert again.intervals[KEY].raised == ["a", "b"]
    assert again.intervals[KEY].suppressed == {"c": "verdict"}
    assert backtest_expect.differences(again, results) == []
