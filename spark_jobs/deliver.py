"""Deliver step by hand: ``botwatch run deliver --config F --start S --end E``.

In a DAG the deliver task (``botwatch_airflow.deliver_task``) calls the same
``spark_jobs.alerting.delivery.deliver`` with Airflow connections; from here secrets come from
``AIRFLOW_CONN_*`` and environment variables. No Spark is started.
"""

from __future__ import annotations

import argparse
import logging
import sys

from spark_jobs.alerting.delivery import check, deliver
from spark_jobs.config.loading import load_usecase
from spark_jobs.errors import DeliveryFailed
from spark_jobs.lake.layout import parse_instant
from spark_jobs.stage.runner import setup_logging

log = logging.getLogger("botwatch.deliver")


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    parser = argparse.ArgumentParser(prog="botwatch-deliver", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--start", required=True, type=parse_instant)
    parser.add_argument("--end", required=True, type=parse_instant)
    parser.add_argument("--lake", help="lake root (default: the config's)")
    args = parser.parse_args(argv)
    usecase = load_usecase(args.config)
    summary = deliver(usecase, args.start, args.end, args.lake or usecase.lake_root())
    try:
        check(summary)
    except DeliveryFailed as exc:
        log.error("%s deliver: %s", usecase.id, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
