"""``botwatch backtest``'s command line: usage errors, a run over the bundled sample, and the
expected-alerts round trip (write, then compare)."""

from __future__ import annotations

import json

import pytest

from spark_jobs.stage import backtest_cli
from tests.support.builders import usecase_yaml
from tests.support.paths import SAMPLE_LOG


def test_to_before_from_is_a_usage_error(tmp_path, capsys):
    config = usecase_yaml(tmp_path, "uc")
    with pytest.raises(SystemExit) as exc:
        backtest_cli.main(["--config", str(config), "--from", "2015-05-18", "--to", "2015-05-17"])
    assert exc.value.code == 2
    assert "--to 2015-05-17 is before --from 2015-05-18" in capsys.readouterr().err


@pytest.mark.spark
def test_backtest_of_the_sample_raises_alerts_and_delivers_nothing(spark, tmp_path, capsys):
    config = usecase_yaml(
        tmp_path, "bt_uc", source={"path": str(SAMPLE_LOG), "out_of_window": "drop"},
        features=["requests", "distinct_path_ratio", "head_share", "robots_txt", "iat_mean"],
        model={"kind": "unsupervised", "members": ["robust_z"], "training_window_days": 2},
        threshold=90, alert={"min_requests": 5, "max_alerts": 5},
    )  # fmt: skip
    lake, out = tmp_path / "bt-lake", tmp_path / "alerts.jsonl"
    expected = tmp_path / "fixture" / "expected.yaml"
    expected.parent.mkdir()
    args = ["--config", str(config), "--lake", str(lake), "--out", str(out)]
    days = ["--from", "2015-05-17", "--to", "2015-05-18"]
    assert backtest_cli.main([*args, *days, "--write-expect", str(expected), "--audit"]) == 0
    printed = capsys.readouterr().out
    records = [json.loads(line) for line in out.read_text().splitlines()]
    raised = [r for r in records if r["status"] == "raised"]
    assert raised and all(r["score"] >= 90 and r["reason"] for r in raised)
    assert {r["interval_start"][:10] for r in records} <= {"2015-05-17", "2015-05-18"}
    for record in raised:
        assert f"{record['entity']}: " in printed
    assert "summary: 2 of 2 interval(s) run, 0 failed" in printed
    assert f"audit: {len(raised)} raised: " in printed
    assert not (lake / "deliveries").exists()  # deliver never runs: nothing is sent
    # A second backtest starts afresh: the same records, not realert suppressions of the
    # first, so the expected alerts the first one wrote (days included) are met.
    assert backtest_cli.main([*args, "--expect", str(expected)]) == 0
    assert f"expect: ok against {expected}" in capsys.readouterr().out
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["alert_id"] for r in again) == sorted(r["alert_id"] for r in records)
