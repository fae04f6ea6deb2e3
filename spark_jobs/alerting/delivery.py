"""Deliver step: send each sink what the outbox holds and that sink has not received yet.

Runs after the alert stage as a plain Python task (no Spark): in Airflow it can read
connections, so secrets stay in Airflow's secrets backend and never travel on a spark-submit
command line. It looks at the outbox of this interval and of earlier intervals within
``alert.retry_days``, so alerts a dead receiver missed are retried by the next runs, and
records every attempt in the per-sink ledger before returning. A receiver sees an alert id once:
the ledger skips what was delivered, and each sink carries the id as its own idempotency key
(Elasticsearch ``_id``, webhook ``Idempotency-Key``, e-mail ``Message-ID``) for the one case
the ledger cannot cover: a crash between sending and recording.

By hand: ``botwatch run deliver --config F --start S --end E`` (``spark_jobs/deliver.py``).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from spark_jobs.alerting import outbox
from spark_jobs.alerting.connections import Resolver, build_sink, env_connection
from spark_jobs.config.usecase import UseCase
from spark_jobs.errors import DeliveryFailed, SinkSetupError
from spark_jobs.lake.layout import interval_key, iso_utc, partition_path

log = logging.getLogger("botwatch.deliver")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # ledger time: when we tried


def retry_keys(store: Any, root: str, usecase: UseCase, start: datetime) -> list[str]:
    """Outbox intervals this run delivers: its own and those within ``retry_days`` before."""
    first = interval_key(start - timedelta(days=usecase.alert.retry_days))
    last = interval_key(start)
    return [k for k in outbox.outbox_keys(store, root, usecase.id) if first <= k <= last]


def _deliver_sink(
    sink_cfg: Any,
    docs_by_key: dict[str, list[dict]],
    ctx: dict[str, Any],
    build: Callable[..., Any],
) -> dict[str, Any]:
    store, root, usecase = ctx["store"], ctx["root"], ctx["usecase"]
    name = sink_cfg.sink_name
    entry: dict[str, Any] = {"name": name, "type": sink_cfg.type, "pending": 0}
    entry.update(delivered=0, failed=0, error=None)
    pending: list[tuple[str, dict]] = []
    for key, docs in docs_by_key.items():
        done = outbox.delivered_ids(outbox.read_ledger(store, root, usecase.id, key, name))
        pending += [(key, d) for d in docs if outbox.alert_id(d) not in done]
    entry["pending"] = len(pending)
    if not pending:
        return entry
    try:
        sink = build(sink_cfg, root, ctx["resolve"])
    except SinkSetupError as exc:
        entry.update(failed=len(pending), error=str(exc))
        return entry
    key_of = {outbox.alert_id(d): k for k, d in pending}
    try:
        results = sink.deliver([d for _, d in pending])
    finally:
        if hasattr(sink, "close"):
            sink.close()  # e.g. the Elasticsearch client's pool: workers live long
    lines: dict[str, list[dict]] = defaultdict(list)
    seen: set[str] = set()
    for result in results:
        for aid in result.alert_ids:
            seen.add(aid)
            lines[key_of[aid]].append(
                {
                    "alert_id": aid,
                    "sink": name,
                    "ok": result.ok,
                    "attempts": result.attempts,
                    "detail": result.detail,
                    "batch": len(result.alert_ids),
                    "at": _now(),
                    "by_interval": ctx["run"],
                }
            )
            entry["delivered" if result.ok else "failed"] += 1
    entry["failed"] += len(set(key_of) - seen)  # a sink that forgot one: not delivered
    for key, entries in lines.items():
        outbox.append_ledger(store, root, usecase.id, key, name, entries)
    failures = [r.detail for r in results if not r.ok]
    if failures:
        entry["error"] = f"{len(failures)} failed attempt(s), first: {failures[0]}"
    return entry


def deliver(
    usecase: UseCase,
    start: datetime,
    end: datetime,
    lake_root: str,
    *,
    resolve: Resolver = env_connection,
    store: Any = None,
    build: Callable[..., Any] = build_sink,
) -> dict[str, Any]:
    """Deliver pending alerts to every sink, record the attempts, return the run's summary.

    One sink failing (down, misconfigured) does not stop the others.
    """
    store = store or outbox.store_for(lake_root)
    keys = retry_keys(store, lake_root, usecase, start)
    docs_by_key = {k: outbox.read_outbox(store, lake_root, usecase.id, k) for k in keys}
    ctx = {"store": store, "root": lake_root, "usecase": usecase, "resolve": resolve}
    ctx["run"] = iso_utc(start)
    sinks = [_deliver_sink(cfg, docs_by_key, ctx, build) for cfg in usecase.alert.sinks]
    summary = {
        "stage": "deliver",
        "use_case": usecase.id,
        "interval_start": start.isoformat(),
        "interval_end": end.isoformat(),
        "outbox_intervals": keys,
        "outbox_alerts": sum(len(d) for d in docs_by_key.values()),
        "delivered": sum(s["delivered"] for s in sinks),
        "failed": sum(s["failed"] for s in sinks),
        "sinks": sinks,
    }
    record = f"{partition_path(lake_root, 'runs', usecase.id, start)}/deliver.json"
    store.write_text(record, json.dumps(summary, indent=2, sort_keys=True) + "\n")
    for sink in sinks:
        log.info("%s deliver %s: %s", usecase.id, sink["name"], sink)
    return summary


def check(summary: dict[str, Any]) -> None:
    """Raise when anything stayed undelivered, so the task shows red and Airflow retries."""
    bad = [s for s in summary["sinks"] if s["failed"] or s["error"]]
    if bad:
        raise DeliveryFailed(
            "; ".join(f"{s['name']}: {s['failed']} undelivered ({s['error']})" for s in bad)
            + " - kept in the outbox, retried by the next runs"
        )
