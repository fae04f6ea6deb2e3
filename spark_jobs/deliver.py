"""Deliver step by hand: ``botwatch run deliver --config F --start S --end E``.

In a DAG the deliver task (``botwatch_airflow.deliver_task``) calls the same
``spark_jobs.alerting.delivery.deliver`` with Airflow connections; from here secrets come from
``AIRFLOW_CONN_*`` and environment variables. No Spark is started.
"""

from __future__ import annotations

import logging
import sys
import time

from spark_jobs.alerting.delivery import check, deliver
from spark_jobs.config.loading import load_usecase
from spark_jobs.errors import ConfigError, DeliveryFailed
from spark_jobs.reporting.stage_summary import delivery_summary, emit
from spark_jobs.stage.runner import build_parser, setup_logging

log = logging.getLogger("botwatch.deliver")


def main(argv: list[str] | None = None) -> int:
    began = time.monotonic()
    setup_logging()
    args = build_parser("deliver", __doc__).parse_args(argv)
    try:
        usecase = load_usecase(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    lake = args.lake or usecase.lake_root()
    summary, failure = None, None
    try:
        summary = deliver(usecase, args.start, args.end, lake)
        check(summary)
    except DeliveryFailed as exc:
        log.error("%s deliver: %s", usecase.id, exc)
        failure = str(exc)
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        took = time.monotonic() - began
        emit(delivery_summary(usecase, args.start, args.end, lake, took, summary, failure))
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
