"""``botwatch backtest``: the DAG's intervals, its own lake, and a run over the bundled sample."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from spark_jobs.config.usecase import UseCase
from spark_jobs.stage import backtest


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


def test_instants_bound_interval_starts_for_hourly_use_cases():
    hourly = _usecase(schedule="0 * * * *")
    found = backtest.intervals(
        hourly,
        backtest.day_or_instant("2019-10-15T03:00"),
        backtest.day_or_instant("2019-10-15T05:00"),
    )
    assert [start.hour for start, _ in found] == [3, 4, 5]
    assert backtest.day_or_instant("2019-10-15") == date(2019, 10, 15)


def test_backtest_lake_is_beside_the_live_one_unless_given():
    usecase = _usecase(storage={"root": "/data/lake"})
    assert backtest.backtest_lake(usecase, None) == "/data/lake-backtest"
    assert backtest.backtest_lake(usecase, "/tmp/bt") == "/tmp/bt"
