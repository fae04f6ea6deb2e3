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
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from spark_jobs.config.loading import load_usecase
from spark_jobs.config.usecase import UseCase
from spark_jobs.lake import layout, storage
from spark_jobs.reporting.backtest_report import IntervalResult
from spark_jobs.stage import SPARK_STAGES

#: Datasets of the backtest lake a new backtest keeps: analysts' verdicts are never lost.
KEPT_DATASETS = ("feedback",)
#: Suffix of the default backtest lake (beside the use case's own lake root).
LAKE_SUFFIX = "-backtest"


def day_or_instant(text: str) -> date | datetime:
    """``2015-05-17`` (a whole day) or ``2019-10-15T03:00`` (an interval start)."""
    return datetime.fromisoformat(text) if "T" in text or " " in text else date.fromisoformat(text)


def bound(value: date | datetime, zone: ZoneInfo, after: bool) -> datetime:
    """The first instant of ``value`` (``after``: just past its last one), in ``zone``."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=zone)
        return moment + timedelta(seconds=1) if after else moment
    day = value + timedelta(days=1) if after else value
    return datetime.combine(day, datetime.min.time(), tzinfo=zone)


def intervals(
    usecase: UseCase, first: date | datetime, last: date | datetime
) -> list[tuple[datetime, datetime]]:
    """The DAG's data intervals (its cron, in its time zone) that start from ``first`` to
    ``last``: whole days for dates, or interval starts for instants (hourly use cases)."""
    from croniter import croniter  # comes with Airflow; the backtest runs where the CLI does

    zone = ZoneInfo(usecase.timezone)
    begin, stop = bound(first, zone, after=False), bound(last, zone, after=True)
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


#: What a history interval runs: enough for later intervals' models to train on.
HISTORY_STAGES = SPARK_STAGES[: SPARK_STAGES.index("feature") + 1]


def run_interval(
    spark: Any,
    config: str,
    lake: str,
    interval: tuple[datetime, datetime],
    log_path: Path,
    stages: tuple[str, ...] = SPARK_STAGES,
) -> IntervalResult:
    """The stages of one interval through their entrypoints (ingest to alert, or only the
    history stages); stops at a failure."""
    start, end = interval
    result = IntervalResult(start, end, log_file=str(log_path))
    argv = ["--config", config, "--start", start.isoformat(), "--end", end.isoformat()]
    began = time.monotonic()
    with captured(log_path):
        for stage in stages:
            module = importlib.import_module(f"spark_jobs.{stage}")
            if module.main([*argv, "--lake", lake]) != 0:
                result.failed_stage = stage
                break
    result.seconds = time.monotonic() - began
    if result.failed_stage is None and stages == SPARK_STAGES:
        result.alerts = alert_records(spark, lake, config, start)
        result.scoped_out = scoped_out(spark, lake, config, start)
    return result


def scoped_out(spark: Any, lake: str, config: str, start: datetime) -> int | None:
    """How many entities the use case's ``when:`` kept from alerting (the alert run record)."""
    usecase = load_usecase(config)
    path = f"{layout.partition_path(lake, 'runs', usecase.id, start)}/alert.json"
    return storage.read_json(spark, path).get("scoped_out") if storage.exists(spark, path) else None


def alert_records(spark: Any, lake: str, config: str, start: datetime) -> list[dict[str, Any]]:
    """The interval's alert records (raised and suppressed), highest score first."""
    usecase = load_usecase(config)
    path = layout.partition_path(lake, "alerts", usecase.id, start)
    if not storage.exists(spark, path):
        return []
    rows = spark.read.parquet(path).orderBy("status", "score", ascending=[True, False]).collect()
    return [row.asDict(recursive=True) for row in rows]


def _history(
    usecase: UseCase, first: date | datetime | None, until: date | datetime
) -> list[tuple[datetime, datetime]]:
    """The intervals from ``first`` that start before ``until``'s first instant."""
    if first is None:
        return []
    stop = bound(until, ZoneInfo(usecase.timezone), after=False)
    return [i for i in intervals(usecase, first, until) if i[0] < stop]


def run_backtest(usecase: UseCase, args: argparse.Namespace, lake: str) -> list[IntervalResult]:
    """Every interval of the days asked for, in order; printed as they finish."""
    from spark_jobs.reporting import backtest_report
    from spark_jobs.session import spark_session

    todo = intervals(usecase, args.first, args.last)
    history = _history(usecase, args.history, args.first)
    logs = Path(tempfile.gettempdir()) / "botwatch-backtest" / usecase.id
    logs.mkdir(parents=True, exist_ok=True)
    print(backtest_report.header(usecase, todo, lake, logs), flush=True)
    spark = spark_session(f"botwatch-backtest-{usecase.id}", "local", usecase.spark)
    reset_lake(spark, lake, usecase.id)
    results: list[IntervalResult] = []
    for interval in [*history, *todo]:
        log_path = logs / f"{layout.interval_key(interval[0])}.log"
        log_path.unlink(missing_ok=True)
        stages = HISTORY_STAGES if interval in history else SPARK_STAGES
        result = run_interval(spark, args.config, lake, interval, log_path, stages)
        if stages == HISTORY_STAGES and not result.failed_stage:
            print(backtest_report.history_line(usecase, result), flush=True)
            continue
        results.append(result)
        print(backtest_report.interval_lines(usecase, result), flush=True)
        if result.failed_stage and not args.keep_going:
            break
    print(backtest_report.summary(results, len(todo)))
    return results
