"""The DAG's deliver task: runs ``spark_jobs.alerting.delivery`` inside the Airflow worker.

Delivery needs secrets (webhook URLs, SMTP and Elasticsearch credentials). Here they come from
Airflow connections through ``BaseHook.get_connection``, so whatever secrets backend the
deployment uses works, and nothing secret is put on a spark-submit command line or into a
rendered template. Imports stay inside the callable: DAG files must parse fast.
"""

from __future__ import annotations

import logging
from typing import Any


def airflow_connection(conn_id: str) -> Any:
    """Look a connection up through Airflow (metadata DB, secrets backend, AIRFLOW_CONN_*)."""
    from airflow.sdk import BaseHook

    from spark_jobs.alerting.connections import ConnInfo
    from spark_jobs.errors import SinkSetupError

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # noqa: BLE001 - Airflow raises its own not-found types
        raise SinkSetupError(f"connection {conn_id!r}: {type(exc).__name__}: {exc}") from None
    return ConnInfo(
        conn_type=conn.conn_type,
        host=conn.host,
        port=conn.port,
        schema=conn.schema,
        login=conn.login,
        password=conn.password,
        extra=dict(conn.extra_dejson or {}),
    )


def run_delivery(
    config_path: str, lake_root: str, home: str | None = None, **context: Any
) -> dict[str, Any]:
    """Deliver the outbox of the run's data interval (and earlier undelivered alerts).

    :param config_path: the use-case YAML the DAG was built from.
    :param lake_root: the lake the alert stage wrote to.
    :param home: the project home the DAG loaded the config with, so that the worker resolves
        its relative paths the same way (None: found as ``load_usecase`` does).
    :param context: the Airflow task context (``data_interval_start``/``_end`` are used).
    :return: the delivery summary (also written as ``runs/.../deliver.json``; pushed to XCom).
    """
    import time

    from spark_jobs.alerting.delivery import check, deliver
    from spark_jobs.config.loading import load_usecase
    from spark_jobs.lake.layout import parse_instant
    from spark_jobs.reporting.stage_summary import delivery_summary, emit

    began = time.monotonic()
    usecase = load_usecase(config_path, home=home)
    start = parse_instant(context["data_interval_start"].isoformat())
    end = parse_instant(context["data_interval_end"].isoformat())
    summary, failure = None, None
    try:
        summary = deliver(usecase, start, end, lake_root, resolve=airflow_connection)
        check(summary)
    except Exception as exc:  # the summary says why; Airflow still sees the error
        failure = f"{type(exc).__name__}: {exc}" if summary is None else str(exc)
        raise
    finally:  # the task log ends with what was delivered, as every stage's does
        took = time.monotonic() - began
        summary_block = delivery_summary(usecase, start, end, lake_root, took, summary, failure)
        emit(summary_block, logging.getLogger("botwatch.deliver"))
    return summary
