"""``botwatch``: the command line beside Airflow, for writing configs and running a stage by hand.

botwatch check usecase_configs/my_case.yaml     validate configs, one line per problem
botwatch run ingest --config F --start S --end E  run one stage in this process (local Spark)
botwatch run deliver --config F --start S --end E send the outbox (secrets: AIRFLOW_CONN_*, env)
botwatch parse access.log.gz --format auto       how well a format reads some files
botwatch eval --config F --out DIR               detection quality against labelled logs
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from spark_jobs.config.loading import config_files, load_usecase
from spark_jobs.errors import ConfigError
from spark_jobs.stage import STAGES


def _check(paths: list[str]) -> int:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        files.extend(config_files(path) if path.is_dir() else [path])
    failed = 0
    for path in files:
        try:
            usecase = load_usecase(path)
        except ConfigError as exc:
            print(f"error: {exc}")
            failed += 1
        else:
            print(
                f"ok: {path}: use case {usecase.id!r}, features {len(usecase.features)}, "
                f"schedule {usecase.schedule!r} ({usecase.timezone})"
            )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="botwatch", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate use-case YAML files or folders")
    check.add_argument("paths", nargs="+")
    run = sub.add_parser("run", help="run one stage in this process")
    run.add_argument("stage", choices=STAGES)
    sub.add_parser("parse", help="count parsed / quarantined lines of log files", add_help=False)
    sub.add_parser("eval", help="precision / recall of a use case on labelled logs", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "parse":
        from spark_jobs.parsing.report import main as parse_main

        return parse_main(rest)
    if args.command == "eval":
        from spark_jobs.evaluation.evaluate import main as eval_main

        return eval_main(rest)
    if args.command == "check":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return _check(args.paths)
    module = importlib.import_module(f"spark_jobs.{args.stage}")
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
