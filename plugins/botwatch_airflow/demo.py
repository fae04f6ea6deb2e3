"""``make demo``: run one use case's DAG with ``airflow dags test`` over the days its logs cover.

It works only through the public interfaces a user has (the Airflow CLI and the lake), so a
green demo means the DAG, the operators and the jobs work together, then prints what came out.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from croniter import croniter

from botwatch_airflow.dag_factory import config_dir
from botwatch_airflow.services import spark_connect
from spark_jobs.alerting import outbox
from spark_jobs.config.loading import load_all
from spark_jobs.config.usecase import UseCase
from spark_jobs.lake import layout
from spark_jobs.lake.records import (
    AlertRecord,
    DeliverRecord,
    IngestRecord,
    RunRecord,
    ScoreRecord,
)
from spark_jobs.session import remote_url

R = TypeVar("R", bound=RunRecord)
_CLF_TIME = re.compile(rb"\[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]")


def _open(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")  # noqa: SIM115


def log_time_span(pattern: str) -> tuple[datetime, datetime]:
    """First and last event time in the files (one pass; the demo's logs are small)."""
    first = last = None
    files = sorted(glob.glob(pattern))
    if not files:
        raise SystemExit(f"demo: no log file matches {pattern}")
    for path in files:
        with _open(path) as handle:
            for line in handle:
                match = _CLF_TIME.search(line)
                if not match:
                    continue
                ts = datetime.strptime(match.group(1).decode(), "%d/%b/%Y:%H:%M:%S %z")
                first = ts if first is None or ts < first else first
                last = ts if last is None or ts > last else last
    if first is None:
        raise SystemExit(f"demo: no timestamp found in {len(files)} file(s) of {pattern}")
    return first.astimezone(UTC), last.astimezone(UTC)


def intervals(usecase: UseCase, first: datetime, last: datetime) -> list[tuple[datetime, datetime]]:
    """The DAG's data intervals (its cron) that overlap [first, last]."""
    tick = croniter(usecase.schedule, first + timedelta(seconds=1)).get_prev(datetime)
    result = []
    while tick <= last:
        nxt = croniter(usecase.schedule, tick).get_next(datetime)
        result.append((tick, nxt))
        tick = nxt
    return result


def _day(text: str) -> datetime:
    return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)


def run_interval(usecase: UseCase, start: datetime, end: datetime, log_dir: Path) -> bool:
    """One ``airflow dags test`` run; its logical date is the interval's end (Airflow infers
    the interval that ends there)."""
    log_path = log_dir / f"{usecase.id}-{layout.interval_key(start)}.log"
    cmd = ["airflow", "dags", "test", usecase.id, end.isoformat()]
    began = time.monotonic()
    with log_path.open("w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    took = time.monotonic() - began
    status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
    print(
        f"  {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M}  {status}  {took:5.0f} s  log: {log_path}"
    )
    if proc.returncode != 0:
        print("".join(log_path.read_text(errors="replace").splitlines(True)[-30:]), file=sys.stderr)
    return proc.returncode == 0


def _record(root: str, use_case: str, key: str, kind: type[R]) -> R | None:
    """The run record of stage ``kind.STAGE`` in a local lake; None when there is none, or
    one the summary cannot read (said on stderr: the summary shows what it has)."""
    runs = Path(root) / "runs" / f"use_case={use_case}" / f"interval={key}"
    path = runs / f"{kind.STAGE}.json"
    if not path.exists():
        return None
    try:
        return kind.from_json(json.loads(path.read_text()))
    except ValueError as exc:  # not JSON, or a RecordError
        print(f"demo: run record {path} is unreadable: {exc}", file=sys.stderr)
        return None


def summarise(usecase: UseCase, done: list[tuple[datetime, datetime]]) -> None:
    root = usecase.lake_root()
    totals = {
        "read": 0,
        "parsed": 0,
        "quarantined": 0,
        "out_of_window": 0,
        "sessions": 0,
        "entities": 0,
        "alerts": 0,
        "suppressed": 0,
        "delivered": 0,
        "failed": 0,
    }
    alerts, reports = [], []
    for start, _ in done:
        key = layout.interval_key(start)
        if ingest := _record(root, usecase.id, key, IngestRecord):
            for name, count in ingest.counts().items():
                totals[name] += count
        if scored := _record(root, usecase.id, key, ScoreRecord):
            totals["sessions"] += scored.sessions
            totals["entities"] += scored.entities
        if alerted := _record(root, usecase.id, key, AlertRecord):
            totals["alerts"] += alerted.alerts
            totals["suppressed"] += alerted.suppressed
            if alerted.report:
                reports.append(alerted.report)
        if delivered := _record(root, usecase.id, key, DeliverRecord):
            totals["delivered"] += delivered.delivered
            totals["failed"] += delivered.failed
        alerts += outbox.read_outbox(outbox.store_for(root), root, usecase.id, key)
    print(f"\nbotwatch demo summary: use case {usecase.id}, {len(done)} data interval(s)")
    print(
        f"  lines read {totals['read']:,}  parsed {totals['parsed']:,}  "
        f"quarantined {totals['quarantined']:,}  outside their interval {totals['out_of_window']:,}"
    )
    print(
        f"  sessions scored {totals['sessions']:,} (of {totals['entities']:,} entities)  "
        f"alerts raised {totals['alerts']:,}  suppressed {totals['suppressed']:,}"
    )
    print(
        f"  deliveries ok {totals['delivered']:,}  failed {totals['failed']:,} "
        f"(to {', '.join(s.sink_name for s in usecase.alert.sinks)})"
    )
    for doc in sorted(alerts, key=lambda d: -d["botwatch"]["score"])[:5]:
        bw = doc["botwatch"]
        print(f"    {bw['interval']['start'][:10]} {bw['severity']} {bw['entity']}: {bw['reason']}")
    print(f"  lake (Parquet partitions per stage and interval): {root}")
    if reports:
        print(f"  HTML report of the last run: {reports[-1]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--usecase", default="behavioural_bots")
    parser.add_argument(
        "--from", dest="first", type=_day, help="first day (default: first log day)"
    )
    parser.add_argument("--to", dest="last", type=_day, help="last day (default: last log day)")
    parser.add_argument("--max-intervals", type=int, default=7, help="cap on DAG runs (default 7)")
    args = parser.parse_args(argv)

    good, errors = load_all(config_dir())
    for line in errors:
        print(f"warning: invalid config skipped: {line}", file=sys.stderr)
    usecase = next((uc for _, uc in good if uc.id == args.usecase), None)
    if usecase is None:
        print(f"demo: no valid use case {args.usecase!r} in {config_dir()}", file=sys.stderr)
        return 2
    if args.first and args.last:
        first, last = args.first, args.last + timedelta(days=1) - timedelta(seconds=1)
    else:
        span_first, span_last = log_time_span(usecase.source_glob_all())
        first = args.first or span_first
        last = (args.last + timedelta(days=1) - timedelta(seconds=1)) if args.last else span_last
    todo = intervals(usecase, first, last)
    if len(todo) > args.max_intervals:
        print(
            f"demo: the logs cover {len(todo)} intervals; running the first {args.max_intervals} "
            "(use FROM=/TO= or --max-intervals to choose)"
        )
        todo = todo[: args.max_intervals]
    print(
        f"demo: running DAG {usecase.id} with `airflow dags test` for {len(todo)} data interval(s)"
    )
    log_dir = Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "demo-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    done = []
    with spark_connect.serving(remote_url()):
        for start, end in todo:
            if not run_interval(usecase, start, end, log_dir):
                summarise(usecase, done)
                return 1
            done.append((start, end))
    summarise(usecase, done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
