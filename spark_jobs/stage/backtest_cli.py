"""``botwatch backtest``'s command line: days or an expected-alerts file in, a report out.

``stage.backtest`` runs the intervals; this reads the arguments (or the days, history and log
paths of an expected-alerts file, ``reporting.backtest_expect``), prints the report, sorts the
raised alerts by the documented checks with ``--audit`` (``evaluation.alert_audit``) and
compares them with ``--expect``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from spark_jobs.config.loading import load_usecase
from spark_jobs.config.usecase import UseCase
from spark_jobs.errors import ConfigError
from spark_jobs.lake import layout
from spark_jobs.reporting.backtest_report import IntervalResult
from spark_jobs.stage.backtest import (
    LAKE_SUFFIX,
    backtest_lake,
    bound,
    day_or_instant,
    run_backtest,
)


def alert_sessions(
    spark: Any, lake: str, use_case: str, results: list[IntervalResult]
) -> list[dict[str, Any]]:
    """The scored session (every feature) behind each raised alert."""
    from pyspark.sql import functions as F

    found = []
    for result in results:
        sessions = [r["session"] for r in result.alerts if r.get("status") == "raised"]
        if sessions:
            path = layout.partition_path(lake, "scores", use_case, result.start)
            rows = spark.read.parquet(path).where(F.col("session").isin(sessions)).collect()
            found += [row.asDict() for row in rows]
    return found


def audit_line(usecase: UseCase, lake: str, results: list[IntervalResult]) -> str:
    """``audit: N raised: <check> n, ...; plainly people p%`` (evaluation.alert_audit)."""
    from spark_jobs.evaluation.alert_audit import audit
    from spark_jobs.session import spark_session

    spark = spark_session(f"botwatch-backtest-{usecase.id}", "local", usecase.spark)
    found = audit(alert_sessions(spark, lake, usecase.id, results))
    if not found["alerts"]:
        return "audit: no alert raised"
    checks = ", ".join(f"{name} {n}" for name, n in found["by_check"].items())
    return (
        f"audit: {found['alerts']} raised: {checks}; bots by a check "
        f"{found['bot_share']:.0%}, plainly people {found['people_share']:.0%}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="botwatch backtest",
        description=__doc__.splitlines()[0],
        epilog="Nothing is delivered. Exit 1 when an interval's stage failed (its log is "
        "named) or, with --expect, when the alerts differ from the file's.",
    )
    parser.add_argument("--config", required=True, help="use-case YAML file")
    parser.add_argument("--from", dest="first", type=day_or_instant,
                        help="first data day (YYYY-MM-DD, the use case's time zone), or the "
                        "first interval start (YYYY-MM-DDTHH:MM)")  # fmt: skip
    parser.add_argument("--to", dest="last", type=day_or_instant,
                        help="last data day, inclusive, or the last interval start")  # fmt: skip
    parser.add_argument("--history-from", dest="history", type=day_or_instant,
                        help="run ingest, validate and feature from this day up to --from, so "
                        "the first model trains on that history (nothing is alerted for it)")  # fmt: skip
    parser.add_argument("--lake", help=f"backtest lake (default: the lake root + {LAKE_SUFFIX}; "
                        "with --expect a temporary one)")  # fmt: skip
    parser.add_argument("--out", help="also write every alert record as JSON lines here")
    parser.add_argument("--keep-going", action="store_true",
                        help="go on with the next interval after a failed one")  # fmt: skip
    parser.add_argument("--expect", metavar="FILE", help="expected alerts (its days and log "
                        "paths too): exit 1 naming each difference")  # fmt: skip
    parser.add_argument("--audit", action="store_true", help="sort the raised alerts by "
                        "documented checks: bots, scanners, abusers, plainly people")  # fmt: skip
    parser.add_argument("--write-expect", metavar="FILE",
                        help="write this run's alerts as an expected-alerts file")  # fmt: skip
    return parser


def _expectation(args: argparse.Namespace, parser: argparse.ArgumentParser, usecase_id: str):
    """The expectation to compare with (``--expect``: its days fill --from/--to, its ``env``
    is set for the run) or to write (``--write-expect``: this run's days and the ``${VAR}``
    paths of the environment, else those of the file it replaces), and the variables to set."""
    from spark_jobs.reporting import backtest_expect

    given, found = args.expect or args.write_expect, None
    if args.expect and not Path(args.expect).is_file():
        parser.error(f"--expect {args.expect}: no such file")
    if given and Path(given).is_file():
        found = backtest_expect.load(given)
        args.first, args.last = args.first or found.from_day, args.last or found.to_day
        args.history = args.history or found.history_from
    if args.first is None or args.last is None:
        parser.error("--from and --to are required (or --expect FILE, which holds them)")
    if bound(args.last, ZoneInfo("UTC"), True) <= bound(args.first, ZoneInfo("UTC"), False):
        parser.error(f"--to {args.last} is before --from {args.first}")
    if args.expect:
        return found, backtest_expect.resolved_env(found, given)
    if not args.write_expect:
        return None, {}
    text = Path(args.config).read_text(encoding="utf-8")
    env = backtest_expect.referenced_env(text, Path(given).parent) or (found.env if found else {})
    new = backtest_expect.Expectation.model_validate(
        {
            "use_case": usecase_id,
            "from": args.first,
            "to": args.last,
            "env": env,
            "history_from": args.history,
        }  # fmt: skip
    )
    return new, {}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        usecase = load_usecase(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from spark_jobs.reporting import backtest_expect, backtest_report

    expectation, env = _expectation(args, parser, usecase.id)
    with backtest_expect.environment(env), tempfile.TemporaryDirectory() as scratch:
        lake = args.lake or (scratch if args.expect else backtest_lake(usecase, None))
        results = run_backtest(load_usecase(args.config), args, lake)
        if args.audit:
            print(audit_line(usecase, lake, results))
    if args.out:
        backtest_report.write_jsonl(args.out, results)
        print(f"alert records: {args.out}")
    failed = any(r.failed_stage for r in results)
    if args.write_expect:
        Path(args.write_expect).write_text(backtest_expect.dump(expectation, results), "utf-8")
        print(f"expected alerts written: {args.write_expect}")
    elif args.expect:
        wrong = backtest_expect.differences(expectation, results)
        for line in wrong:
            print(f"expect: {line}")
        print(f"expect: {'FAILED, ' + str(len(wrong)) + ' difference(s)' if wrong else 'ok'} "
              f"against {args.expect}")  # fmt: skip
        failed = failed or bool(wrong)
    return 1 if failed else 0
