"""``make backfill`` through the live scheduler (``make airflow``'s services, see
tests/support/live_airflow.py): three local days of the real sample log become three green
runs with one partition each, and rerunning the same backfill raises no alert twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from botwatch_airflow.services import processes

from tests.support.live_airflow import BACKFILL_DAYS, LIVE_TIMEZONE, LIVE_USECASE

pytestmark = pytest.mark.e2e

#: The three Paris days as UTC data intervals (summer time: UTC+2) and their lake keys.
INTERVALS = [
    ("2015-05-18", "2015-05-17 22:00", "2015-05-18 22:00", "20150517T220000Z"),
    ("2015-05-19", "2015-05-18 22:00", "2015-05-19 22:00", "20150518T220000Z"),
    ("2015-05-20", "2015-05-19 22:00", "2015-05-20 22:00", "20150519T220000Z"),
]
KEYS = [key for *_, key in INTERVALS]
#: The rerun: the backfill of the last day again (the day with the most alerts). Rerunning all
#: three would prove no more (each interval's alerts are checked the same way) for 3x the time.
RERUN = INTERVALS[-1:]
#: Stages whose output is one Parquet partition per interval.
PARTITIONED = ("parsed", "features", "scores", "alerts")


def _keys(lake: Path, dataset: str) -> list[str]:
    folder = lake / dataset / f"use_case={LIVE_USECASE}"
    return sorted(p.name.removeprefix("interval=") for p in folder.glob("interval=*"))


def _record_path(lake: Path, key: str, stage: str) -> Path:
    return lake / "runs" / f"use_case={LIVE_USECASE}" / f"interval={key}" / f"{stage}.json"


def _record(lake: Path, key: str, stage: str) -> dict:
    return json.loads(_record_path(lake, key, stage).read_text())


def _rows(lake: Path, dataset: str, key: str) -> int:
    return pq.read_table(lake / dataset / f"use_case={LIVE_USECASE}" / f"interval={key}").num_rows


def _delivered_ids(lake: Path) -> list[str]:
    """Alert ids the file sink received (``alerts.jsonl`` in the lake), repeats included."""
    lines = (lake / "alerts.jsonl").read_text().splitlines()
    return [json.loads(line)["event"]["id"] for line in lines]


def _outbox_ids(lake: Path, key: str = "*") -> list[str]:
    """Alert ids in the outbox, of one interval or (``*``) of all."""
    ids = []
    folder = lake / "outbox" / f"use_case={LIVE_USECASE}"
    for path in sorted(folder.glob(f"interval={key}/alerts.jsonl")):
        ids.extend(json.loads(line)["event"]["id"] for line in path.read_text().splitlines())
    return ids


def _lake_state(lake: Path) -> dict:
    """What a rerun must leave as it was: the partitions, their row counts, the alerts."""
    return {
        "keys": {
            dataset: [k for k in _keys(lake, dataset) if k in KEYS] for dataset in PARTITIONED
        },
        "rows": {(d, k): _rows(lake, d, k) for d in PARTITIONED for k in KEYS},
        "outbox": sorted(_outbox_ids(lake)),
    }


def _assert_reported_each_interval(stdout: str, intervals=INTERVALS) -> None:
    """One line per run: the local day, the same interval in UTC, and its outcome."""
    lines = [line.strip() for line in stdout.splitlines()]
    for day, utc_start, utc_end, _ in intervals:
        local = f"{day} 00:00 → {_next_day(day)} 00:00 {LIVE_TIMEZONE}"
        (line,) = [line for line in lines if line.startswith(local)]
        assert f"(UTC {utc_start} → {utc_end})" in line
        assert line.endswith("success"), line
    assert f"backfill {LIVE_USECASE}: {len(intervals)} succeeded, 0 failed" in lines


def _next_day(day: str) -> str:
    return f"{day[:8]}{int(day[8:]) + 1:02d}"


def _scheduled_run(live_airflow) -> dict:
    """The one run unpausing created (catchup false: the latest interval), once finished."""
    api, found = live_airflow.api(), {}

    def _finished() -> bool:
        runs = api.get(f"/api/v2/dags/{LIVE_USECASE}/dagRuns?run_type=scheduled")["dag_runs"]
        found.update(runs[0] if len(runs) == 1 else {})
        return found.get("state") in ("success", "failed")

    processes.wait_until(_finished, [], what="the scheduled run", timeout_s=900, every_s=5)
    return found


def test_backfill_of_three_local_days_through_the_scheduler(live_airflow, backfilled):
    assert backfilled.returncode == 0, backfilled.stdout + backfilled.stderr
    assert f"local days {BACKFILL_DAYS[0]} .. {BACKFILL_DAYS[1]} ({LIVE_TIMEZONE})" in (
        backfilled.stdout
    )
    _assert_reported_each_interval(backfilled.stdout)
    lake = live_airflow.lake
    for dataset in PARTITIONED:
        assert [k for k in _keys(lake, dataset) if k in KEYS] == KEYS, dataset
    for key in KEYS:
        ingest = _record(lake, key, "ingest")
        assert ingest["outcome"] == "ok" and ingest["parsed"] > 1000
        assert ingest["interval_start"].startswith(key[:4])
        assert _rows(lake, "parsed", key) == ingest["parsed"]
        assert _record(lake, key, "deliver")["failed"] == 0
    delivered = _delivered_ids(lake)
    assert delivered, "three days of the sample should raise alerts"
    assert sorted(delivered) == sorted(_outbox_ids(lake))
    assert len(set(delivered)) == len(delivered)


def test_unpausing_runs_the_latest_interval_green_with_no_data(live_airflow, backfilled):
    run = _scheduled_run(live_airflow)
    assert run["state"] == "success", run
    start = datetime.fromisoformat(run["data_interval_start"])
    assert start.year > 2015  # years after the log ends
    key = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    ingest = _record(live_airflow.lake, key, "ingest")
    assert ingest["outcome"] == "no_data"
    assert "outside the interval" in ingest["no_data_reason"]
    for stage in ("validate", "feature", "train", "score", "alert"):
        assert _record(live_airflow.lake, key, stage)["outcome"] == "no_data", stage
    assert not (
        live_airflow.lake / "outbox" / f"use_case={LIVE_USECASE}" / f"interval={key}"
    ).exists()


def test_rerunning_the_backfill_raises_no_alert_twice(live_airflow, backfilled):
    lake = live_airflow.lake
    before, delivered = _lake_state(lake), _delivered_ids(lake)
    rerun_keys = [key for *_, key in RERUN]
    written = {key: _record_path(lake, key, "alert").stat().st_mtime_ns for key in KEYS}
    ((day, *_),) = RERUN
    rerun = live_airflow.backfill(
        "--usecase", LIVE_USECASE, "--from", day, "--to", day, "--reprocess", "completed"
    )
    live_airflow.timings["rerun"] = live_airflow.timings["backfills"][-1]
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    _assert_reported_each_interval(rerun.stdout, RERUN)
    for key in KEYS:  # the rerun's stages really ran again, and only those
        rewritten = _record_path(lake, key, "alert").stat().st_mtime_ns > written[key]
        assert rewritten == (key in rerun_keys), key
    assert all(_outbox_ids(lake, key) for key in rerun_keys), "the rerun day raised alerts"
    assert _lake_state(lake) == before
    assert _delivered_ids(lake) == delivered
