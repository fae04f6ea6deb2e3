"""``botwatch backtest``: the DAG's intervals, its own lake, and a run over the bundled sample."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from spark_jobs.config.usecase import UseCase
from spark_jobs.stage import backtest
from tests.support.builders import usecase_yaml
from tests.support.paths import SAMPLE_LOG


def _usecase(**extra) -> UseCase:
    return UseCase.model_validate(
        {"id": "uc", "description": "d", "start_date": "2015-05-17",
         "source": {"path": "x/*.log"}, "features": ["requests", "head_share"], **extra}
    )  # fmt: skip


def test_intervals_follow_the_cron_in_the_use_case_time_zone():
    paris = ZoneInfo("Europe/Paris")
    found = backtest.intervals(
        _usecase(schedule="0 6 * * *", timezone="Europe/Paris"),
        date(2015, 5, 17),
        date(2015, 5, 18),
    )
    assert found == [
        (datetime(2015, 5, 17, 6, tzinfo=paris), datetime(2015, 5, 18, 6, tzinfo=paris)),
        (datetime(2015, 5, 18, 6, tzinfo=paris), datetime(2015, 5, 19, 6, tzinfo=paris)),
    ]
    hourly = backtest.intervals(
        _usecase(schedule="0 * * * *"), date(2015, 5, 17), date(2015, 5, 17)
    )
    assert len(hourly) == 24 and hourly[0][0].hour == 0 and hourly[-1][1].day == 18


def test_backtest_lake_is_beside_the_live_one_unless_given():
    usecase = _usecase(storage={"root": "/data/lake"})
    assert backtest.backtest_lake(usecase, None) == "/data/lake-backtest"
    assert backtest.backtest_lake(usecase, "/tmp/bt") == "/tmp/bt"


def test_to_before_from_is_a_usage_error(tmp_path, capsys):
    config = usecase_yaml(tmp_path, "uc")
    with pytest.raises(SystemExit) as exc:
        backtest.main(["--config", str(config), "--from", "2015-05-18", "--to", "2015-05-17"])
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
    args = ["--config", str(config), "--from", "2015-05-17", "--to", "2015-05-18",
            "--lake", str(lake), "--out", str(out)]  # fmt: skip
    assert backtest.main(args) == 0
    printed = capsys.readouterr().out
    records = [json.loads(line) for line in out.read_text().splitlines()]
    raised = [r for r in records if r["status"] == "raised"]
    assert raised and all(r["score"] >= 90 and r["reason"] for r in raised)
    assert {r["interval_start"][:10] for r in records} <= {"2015-05-17", "2015-05-18"}
    for record in raised:
        assert f"{record['entity']}: " in printed
    assert "summary: 2 of 2 interval(s) run, 0 failed" in printed
    assert not (lake / "deliveries").exists()  # deliver never runs: nothing is sent
    # A second backtest starts afresh: the same records, not realert suppressions of the first.
    assert backtest.main(args) == 0
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["alert_id"] for r in again) == sorted(r["alert_id"] for r in records)
