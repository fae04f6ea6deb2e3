"""The backfill wrapper speaks in the use case's local days and keeps its max_active_runs."""

from __future__ import annotations

import subprocess
from datetime import date

from botwatch_airflow.services.backfill import (
    _describe,
    create_backfill,
    create_command,
    wait_for_earlier_backfill,
)

from spark_jobs.config.loading import load_usecase
from tests.support.builders import usecase_yaml


def _usecase(tmp_path, **overrides):
    return load_usecase(usecase_yaml(tmp_path, **overrides))


def test_local_days_become_local_midnights_and_the_dags_max_active_runs(tmp_path):
    usecase = _usecase(tmp_path, timezone="America/New_York", airflow={"max_active_runs": 2})
    cmd = create_command(usecase, date(2014, 3, 4), date(2014, 3, 6), "completed")
    assert cmd[cmd.index("--from-date") + 1] == "2014-03-04T00:00:00-05:00"
    assert cmd[cmd.index("--to-date") + 1] == "2014-03-06T00:00:00-05:00"
    assert cmd[cmd.index("--max-active-runs") + 1] == "2"
    assert cmd[cmd.index("--dag-id") + 1] == usecase.id


def test_a_run_is_described_by_its_local_and_utc_interval(tmp_path):
    from zoneinfo import ZoneInfo

    run = {
        "data_interval_start": "2014-03-09T05:00:00Z",
        "data_interval_end": "2014-03-10T04:00:00Z",  # the DST night: a 23-hour local day
        "state": "success",
    }
    line = _describe(run, ZoneInfo("America/New_York"))
    assert line.startswith("2014-03-09 00:00 → 2014-03-10 00:00 America/New_York")
    assert "(UTC 2014-03-09 05:00 → 2014-03-10 04:00)" in line
    assert line.endswith("success")


class _Backfills:
    """The REST API's backfill list, one answer per call (the last one repeats)."""

    def __init__(self, *answers: list[dict]) -> None:
        self.answers, self.calls = list(answers), 0

    def get(self, path: str) -> dict:
        assert path.startswith("/api/v2/backfills?dag_id=uc")
        self.calls += 1
        return {"backfills": self.answers[min(self.calls, len(self.answers)) - 1]}


def test_a_finished_backfill_not_yet_marked_complete_is_waited_for():
    running = [{"id": 1, "completed_at": None, "from_date": "a", "to_date": "b"}]
    done = [{"id": 1, "completed_at": "2026-12-02T15:00:00Z"}]
    api = _Backfills(running, running, done)
    assert wait_for_earlier_backfill(api, "uc", timeout_s=30, every_s=0) is None
    assert api.calls == 3


def test_a_backfill_still_active_after_the_timeout_is_returned():
    running = [{"id": 7, "completed_at": None, "from_date": "a", "to_date": "b"}]
    api = _Backfills(running)
    assert wait_for_earlier_backfill(api, "uc", timeout_s=0, every_s=0)["id"] == 7


class _Runs:
    """A stand-in for ``subprocess.run`` answering with the given (returncode, stderr)s."""

    def __init__(self, *answers: tuple[int, str]) -> None:
        self.answers, self.calls = list(answers), 0

    def __call__(self, cmd, **_kwargs) -> subprocess.CompletedProcess:
        self.calls += 1
        code, stderr = self.answers.pop(0)
        return subprocess.CompletedProcess(cmd, code, "", stderr)


LOCKED = "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked"


def test_a_locked_metadata_db_is_tried_again_until_the_create_succeeds():
    run = _Runs((1, LOCKED), (1, LOCKED), (0, ""))
    created = create_backfill(["airflow"], pause_s=0, run=run)
    assert (created.returncode, run.calls) == (0, 3)


def test_any_other_create_error_is_final_and_a_lock_gives_up_after_the_attempts():
    other = _Runs((1, "Dag has no schedule"), (0, ""))
    assert create_backfill(["airflow"], pause_s=0, run=other).stderr == "Dag has no schedule"
    assert other.calls == 1
    locked = _Runs(*[(1, LOCKED)] * 3)
    assert create_backfill(["airflow"], attempts=3, pause_s=0, run=locked).returncode == 1
    assert locked.calls == 3
