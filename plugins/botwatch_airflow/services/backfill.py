"""``make backfill USECASE=… FROM=… TO=…``: a backfill through the running scheduler, in the
use case's own local days.

``airflow backfill create --from-date 2014-03-04`` reads the dates as UTC midnights and its
own ``--max-active-runs`` (not the DAG's), so with ``timezone: America/New_York`` it shifts
the runs against the local days and starts them all at once. This wrapper turns the local
days FROM..TO (inclusive) into the logical dates of the DAG's runs in its timezone (a run's
logical date is the start of its data interval), passes the use case's ``max_active_runs``,
then follows the runs through the REST API and prints, per run, the local interval it covers
and its outcome. It needs ``make airflow`` (the scheduler runs the backfill).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

from botwatch_airflow.dag_factory import config_dir
from botwatch_airflow.services import airflow_services
from spark_jobs.config.loading import load_all
from spark_jobs.config.usecase import UseCase

FINISHED = {"success", "failed"}


def find_usecase(usecase_id: str) -> UseCase:
    good, _ = load_all(config_dir())
    for _, usecase in good:
        if usecase.id == usecase_id:
            return usecase
    known = ", ".join(sorted(u.id for _, u in good))
    raise SystemExit(
        f"backfill: no valid use case {usecase_id!r} in {config_dir()} (known: {known})"
    )


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=zone)


def create_command(usecase: UseCase, first: date, last: date, reprocess: str) -> list[str]:
    """The ``airflow backfill create`` of the local days first..last (inclusive)."""
    zone = ZoneInfo(usecase.timezone)
    return [
        "airflow", "backfill", "create", "--dag-id", usecase.id,
        "--from-date", local_midnight(first, zone).isoformat(),
        "--to-date", local_midnight(last, zone).isoformat(),
        "--max-active-runs", str(usecase.airflow.max_active_runs),
        "--reprocess-behavior", reprocess,
    ]  # fmt: skip


#: What SQLite says when another Airflow process holds its write lock longer than the busy
#: timeout: the scheduler and the task workers write often, so a CLI write can lose the race.
_TRANSIENT = "database is locked"


def create_backfill(
    cmd: list[str], *, attempts: int = 6, pause_s: float = 5.0, run=subprocess.run
) -> subprocess.CompletedProcess:
    """``airflow backfill create``, again after a short pause while SQLite is locked.

    On the embedded SQLite metadata DB a busy scheduler makes the CLI's insert fail with
    "database is locked" now and then (seen in CI); the whole create is one transaction, so a
    failed attempt leaves nothing behind and trying again is safe. Any other error is final."""
    for attempt in range(1, attempts + 1):
        created = run(cmd, capture_output=True, text=True, check=False)
        if created.returncode == 0 or _TRANSIENT not in created.stderr or attempt == attempts:
            return created
        print(f"backfill: the metadata DB is locked; trying again ({attempt}/{attempts - 1})")
        time.sleep(pause_s * attempt)
    raise AssertionError("unreachable")


def wait_for_earlier_backfill(
    api: airflow_services.RestClient, dag_id: str, timeout_s: float = 90, every_s: float = 5
) -> dict | None:
    """Wait until no backfill of ``dag_id`` is active; return the one still active after
    ``timeout_s`` (None when there is none).

    Airflow allows one active backfill per DAG, and the scheduler marks a backfill complete
    only every 30 s after its last run ended, so a second ``make backfill`` right after the
    first would otherwise fail with "Another backfill is running".
    """
    began = time.monotonic()
    while True:
        active = [
            b
            for b in api.get(f"/api/v2/backfills?dag_id={dag_id}&limit=100")["backfills"]
            if b.get("completed_at") is None
        ]
        if not active or time.monotonic() - began >= timeout_s:
            return active[0] if active else None
        time.sleep(every_s)


def _backfill_runs(
    api: airflow_services.RestClient, usecase: UseCase, first: datetime, last: datetime
) -> list[dict]:
    runs = api.get(f"/api/v2/dags/{usecase.id}/dagRuns?limit=1000&run_type=backfill")["dag_runs"]
    chosen = []
    for run in runs:
        start = datetime.fromisoformat(run["data_interval_start"])
        if first <= start <= last:
            chosen.append(run)
    return sorted(chosen, key=lambda run: run["data_interval_start"])


def _describe(run: dict, zone: ZoneInfo) -> str:
    start = datetime.fromisoformat(run["data_interval_start"])
    end = datetime.fromisoformat(run["data_interval_end"])
    local = f"{start.astimezone(zone):%Y-%m-%d %H:%M} → {end.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"
    return f"{local}  (UTC {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M})  {run['state']}"


def follow(usecase: UseCase, first: date, last: date, timeout_s: float) -> int:
    """Print each run as it finishes; 0 when all succeeded."""
    zone = ZoneInfo(usecase.timezone)
    lo, hi = local_midnight(first, zone), local_midnight(last, zone)
    api, reported, began = airflow_services.RestClient(), set(), time.monotonic()
    while True:
        runs = _backfill_runs(api, usecase, lo, hi)
        for run in runs:
            if run["state"] in FINISHED and run["dag_run_id"] not in reported:
                reported.add(run["dag_run_id"])
                print(f"  {_describe(run, zone)}", flush=True)
        if runs and all(run["state"] in FINISHED for run in runs):
            failed = [run for run in runs if run["state"] != "success"]
            print(
                f"backfill {usecase.id}: {len(runs) - len(failed)} succeeded, {len(failed)} failed"
            )
            return 1 if failed else 0
        if time.monotonic() - began > timeout_s:
            print(f"backfill {usecase.id}: still running after {timeout_s:.0f} s; see the UI")
            return 1
        time.sleep(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="botwatch-backfill", description=__doc__.splitlines()[0])
    parser.add_argument("--usecase", required=True)
    parser.add_argument(
        "--from", dest="first", required=True, type=date.fromisoformat, help="first local day"
    )
    parser.add_argument(
        "--to", dest="last", required=True, type=date.fromisoformat, help="last local day"
    )
    parser.add_argument("--reprocess", default="completed", choices=["none", "completed", "failed"])
    parser.add_argument("--timeout-minutes", type=float, default=240)
    parser.add_argument("--no-wait", action="store_true", help="create the backfill and return")
    args = parser.parse_args(argv)
    usecase = find_usecase(args.usecase)
    cmd = create_command(usecase, args.first, args.last, args.reprocess)
    print(f"backfill {usecase.id}: local days {args.first} .. {args.last} ({usecase.timezone})")
    busy = wait_for_earlier_backfill(airflow_services.RestClient(), usecase.id)
    if busy is not None:
        print(
            f"backfill: backfill {busy['id']} of {usecase.id} ({busy['from_date']} .. "
            f"{busy['to_date']}) is still running; wait for it or cancel it in the UI",
            file=sys.stderr,
        )
        return 1
    created = create_backfill(cmd)
    if created.returncode != 0:
        print(
            f"backfill: airflow backfill create failed:\n{created.stderr[-2000:]}", file=sys.stderr
        )
        return 1
    if args.no_wait:
        return 0
    return follow(usecase, args.first, args.last, args.timeout_minutes * 60)


if __name__ == "__main__":
    sys.exit(main())
