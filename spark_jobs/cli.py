"""``botwatch``: the command line beside Airflow, for writing configs and running a stage by hand.

botwatch check [usecase_configs/my_case.yaml]    validate configs, sample-parse their logs
botwatch run STAGE --help                         the options of a stage
botwatch run ingest --config F --start S --end E  run one stage in this process (local Spark)
botwatch run deliver --config F --start S --end E send the outbox (secrets: AIRFLOW_CONN_*, env)
botwatch backtest --config F --from D --to D     the alerts a use case would have raised, per day
botwatch feedback --config F ALERT_ID --false-positive --reason TEXT   an analyst's verdict
botwatch parse access.log.gz --format auto       how well a format reads some files
botwatch eval --config F --out DIR               detection quality against labelled logs
botwatch eval --protocol leave-one-site-out --sites 'bench/eval/sites/*.yaml' --out DIR
botwatch train-general --sites GLOB --config F   refit the shipped general model (maintainers)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from spark_jobs.config.checks import check_paths
from spark_jobs.parsing.sample import SAMPLE_LINES
from spark_jobs.stage import STAGES


def _check(paths: list[str], sample_lines: int) -> int:
    """Print each file's lines (``path: ok`` or ``path: error|warning: key: reason``); 1 when
    any file has an error."""
    if not paths:
        from spark_jobs.config.paths import project_home

        paths = [
            str(Path(os.environ.get("BOTWATCH_CONFIG_DIR") or project_home() / "usecase_configs"))
        ]
    reports = check_paths(paths, sample_lines=sample_lines)
    for report in reports:
        for line in report.lines():
            print(line)
    if not reports:
        print(f"no use-case files in {' '.join(paths)}")
    return 1 if any(report.errors for report in reports) else 0


def _run(stage: str | None, rest: list[str], run: argparse.ArgumentParser) -> int:
    """One stage in this process; ``--help`` is the stage's own (its options)."""
    if stage is None:
        run.print_help()
        return 0 if rest and rest[0] in ("-h", "--help") else 2
    module = importlib.import_module(f"spark_jobs.{stage}")
    return module.main(rest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="botwatch", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser(
        "check",
        help="validate use-case YAML files or folders, and sample-parse their logs",
        description="One line per file: 'ok', or 'error|warning: key: reason'. Exit 1 on any "
        "error. Default: the project's usecase_configs/.",
    )
    check.add_argument("paths", nargs="*", help="files or folders (default: usecase_configs/)")
    check.add_argument(
        "--sample-lines", type=int, default=SAMPLE_LINES, help="lines of one log file parsed"
    )
    run = sub.add_parser(
        "run",
        help="run one stage in this process (botwatch run STAGE --help: its options)",
        add_help=False,
        usage=f"botwatch run {{{','.join(STAGES)}}} [--help] --config F --start S --end E",
    )
    run.add_argument("stage", nargs="?", choices=STAGES)
    sub.add_parser(
        "backtest", help="run a use case over past days; nothing is delivered", add_help=False
    )
    sub.add_parser(
        "feedback", help="record that an alert was a false or true positive", add_help=False
    )
    sub.add_parser("parse", help="count parsed / quarantined lines of log files", add_help=False)
    sub.add_parser("eval", help="precision / recall of a use case on labelled logs", add_help=False)
    sub.add_parser(
        "train-general", help="refit the shipped general model and its data card", add_help=False
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "train-general":
        from spark_jobs.models.general.training import main as train_general_main

        return train_general_main(rest)
    if args.command == "backtest":
        from spark_jobs.stage.backtest_cli import main as backtest_main

        return backtest_main(rest)
    if args.command == "feedback":
        from spark_jobs.alerting.feedback_cli import main as feedback_main

        return feedback_main(rest)
    if args.command == "parse":
        from spark_jobs.parsing.report import main as parse_main

        return parse_main(rest)
    if args.command == "eval":
        from spark_jobs.evaluation.evaluate import main as eval_main

        return eval_main(rest)
    if args.command == "check":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return _check(args.paths, args.sample_lines)
    return _run(args.stage, rest, run)


if __name__ == "__main__":
    sys.exit(main())
