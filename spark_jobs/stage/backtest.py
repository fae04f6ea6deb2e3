"""``botwatch backtest``: run a use case over past days and show the alerts it would raise.

What ``elastalert-test-rule`` and ``cscli hubtest`` are to their users: before a use case goes
live, its author runs it over a week of history and reads, per interval, what would have been
raised, what would have been suppressed and why, without anything being delivered.

Every stage but deliver runs in this process on one Spark session (local, or the Connect server
of ``BOTWATCH_SPARK_REMOTE``), interval after interval in data order, exactly as the DAG runs
them (same entrypoints, same arguments), so what the backtest shows is what the DAG would do.
It writes to a lake of its own (default: the use case's lake root with ``-backtest`` appended),
so the live outbox never sees a backtest alert. Each run starts that lake afresh for the use
case, except for the analysts' verdicts (``feedback/``): a verdict given on a backtest alert
applies to the next backtest, which is how a user checks a verdict before giving it live.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from spark_jobs.config.loading import load_usecase
from spark_jobs.config.usecase import UseCase
from spark_jobs.errors import ConfigError
from spark_jobs.lake import layout, storage
from spark_jobs.reporting.backtest_report import IntervalResult
from spark_jobs.stage import SPARK_STAGES

#: Datasets of the backtest lake a new backtest keeps: analysts' verdicts are never lost.
KEPT_DATASETS = ("feedback",)
#: Suffix of the default backtest lake (beside the use case's own lake root).
LAKE_SUFFIX = "-backtest"


def intervals(usecase: UseCase, first: date, last: date) -> list[tuple[datetime, datetime]]:
    """The DAG's data intervals (its cron, in its time zone) that start on days first..last."""
    from croniter import croniter  # comes with Airflow; the backtest runs where the CLI does

    zone = ZoneInfo(usecase.timezone)
    begin = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    stop = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    tick = croniter(usecase.schedule, begin - timedelta(seconds=1)).get_next(datetime)
    found = []
    while tick < stop:
        nxt = croniter(usecase.schedule, tick).get_next(datetime)
        found.append((tick, nxt))
        tick = nxt
    return found


def backtest_lake(usecase: UseCase, lake: str | None) -> str:
    return lake or usecase.lake_root().rstrip("/") + LAKE_SUFFIX


def reset_lake(spark: Any, root: str, use_case: str) -> None:
    """Remove the use case's partitions of an earlier backtest (but its verdicts), so realert
    state and models of an earlier config do not leak into this one."""
    for dataset in layout.DATASETS:
        if dataset not in KEPT_DATASETS:
            folder = layout.dataset_path(root, dataset, use_case)
            if storage.exists(spark, folder):
                storage.delete(spark, folder)


@contextlib.contextmanager
def captured(log_path: Path) -> Iterator[None]:
    """The stages' log lines and summaries go to ``log_path``; stdout stays the report's."""
    root = logging.getLogger()
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved, root.handlers = root.handlers, [handler]
    root.setLevel(logging.INFO)
    try:
        with (
            log_path.open("a", encoding="utf-8") as out,
            contextlib.redirect_stderr(out),
            contextlib.redirect_stdout(out),
        ):
            yield
    finally:
        handler.close()
        root.handlers = saved


def run_interval(
    spark: Any, config: str, lake: str, start: datetime, end: datetime, log_path: Path
) -> IntervalResult:
    """Ingest to alert for one interval through the stage entrypoints; stops at a failure."""
    result = IntervalResult(start, end, log_file=str(log_path))
    argv = ["--config", config, "--start", start.isoformat(), "--end", end.isoformat()]
    began = time.monotonic()
    with captured(log_path):
        for stage in SPARK_STAGES:
            module = importlib.import_module(f"spark_jobs.{stage}")
            if module.main([*argv, "--lake", lake]) != 0:
                result.failed_stage = stage
                break
    result.seconds = time.monotonic() - began
    if result.failed_stage is None:
        result.alerts = alert_records(spark, lake, config, start)
    return result


def alert_records(spark: Any, lake: str, config: str, start: datetime) -> list[dict[str, Any]]:
    """The interval's alert records (raised and suppressed), highest score first."""
    usecase = load_usecase(config)
    path = layout.partition_path(lake, "alerts", usecase.id, start)
    if not storage.exists(spark, path):
        return []
    rows = spark.read.parquet(path).orderBy("status", "score", ascending=[True, False]).collect()
    return [row.asDict(recursive=True) for row in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="botwatch backtest",
        description=__doc__.splitlines()[0],
        epilog="Nothing is delivered. Exit 1 when an interval's stage failed (its log is named).",
    )
    parser.add_argument("--config", required=True, help="use-case YAML file")
    parser.add_argument("--from", dest="first", required=True, type=date.fromisoformat,
                        help="first data day (YYYY-MM-DD, the use case's time zone)")  # fmt: skip
    parser.add_argument("--to", dest="last", required=True, type=date.fromisoformat,
                        help="last data day, inclusive")  # fmt: skip
    parser.add_argument("--lake", help=f"backtest lake (default: the lake root + {LAKE_SUFFIX})")
    parser.add_argument("--out", help="also write every alert record as JSON lines here")
    parser.add_argument("--keep-going", action="store_true",
                        help="go on with the next interval after a failed one")  # fmt: skip
    args = parser.parse_args(argv)
    if args.last < args.first:
        parser.error(f"--to {args.last} is before --from {args.first}")
    try:
        usecase = load_usecase(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from spark_jobs.reporting import backtest_report
    from spark_jobs.session import spark_session

    todo = intervals(usecase, args.first, args.last)
    lake = backtest_lake(usecase, args.lake)
    logs = Path(tempfile.gettempdir()) / "botwatch-backtest" / usecase.id
    logs.mkdir(parents=True, exist_ok=True)
    print(backtest_report.header(usecase, todo, lake, logs), flush=True)
    spark = spark_session(f"botwatch-backtest-{usecase.id}", "local", usecase.spark)
    reset_lake(spark, lake, usecase.id)
    results = []
    for start, end in todo:
        log_path = logs / f"{layout.interval_key(start)}.log"
        log_path.unlink(missing_ok=True)
        result = run_interval(spark, args.config, lake, start, end, log_path)
        results.append(result)
        print(backtest_report.interval_lines(usecase, result), flush=True)
        if result.failed_stage and not args.keep_going:
            break
    print(backtest_report.summary(results, len(todo)))
    if args.out:
        backtest_report.write_jsonl(args.out, results)
        print(f"alert records: {args.out}")
    return 1 if any(r.failed_stage for r in results) else 0
