"""Alert stage: turn the interval's scores into alerts, keep them in the lake, deliver them.

The lake partition is overwritten (reruns are idempotent by layout); sinks are not partitioned,
so they deduplicate by alert_id instead. Alert ids are stable across reruns, so a retried or
backfilled interval never pages anyone twice.

    spark-submit spark_jobs/alert.py --config usecase_configs/x.yaml --start ... --end ...
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spark_jobs import lake
from spark_jobs.alert_records import (
    ALERT_SCHEMA,
    select_alerts,
    to_records,
    top_session_per_entity,
    with_alert_id,
    with_sample_requests,
    with_top_features,
)
from spark_jobs.job_common import StageContext, StageFailed, run_main, write_run_record
from spark_jobs.usecase_schema import FileSinkConfig


def build_alerts(spark: Any, ctx: StageContext) -> list[dict]:
    """The interval's alert records, from its scores and (for samples) its parsed rows."""
    usecase, cfg = ctx.usecase, ctx.usecase.alert
    scores = top_session_per_entity(spark.read.parquet(ctx.path("scores")))
    alerts = select_alerts(scores, usecase.threshold, cfg.min_requests, cfg.max_alerts)
    alerts = with_top_features(
        with_alert_id(alerts, usecase.id, ctx.start, ctx.end), cfg.top_features
    )
    alerts = alerts.cache()  # used by the sample join and by the final collect
    try:
        samples = cfg.sample_requests if not alerts.isEmpty() else 0  # no alerts: skip the scan
        parsed = spark.read.parquet(ctx.path("parsed")) if samples else None
        return to_records(with_sample_requests(alerts, parsed, samples, usecase.entity.key))
    finally:
        alerts.unpersist()


# --- JSONL file sink ------------------------------------------------------------------------


def sink_path(sink: FileSinkConfig, lake_root: str) -> str:
    try:
        return sink.resolved_path(lake_root)
    except ValueError as exc:
        raise StageFailed(str(exc)) from None


def _known_ids(path: Path) -> set[str]:
    ids: set[str] = set()
    if not path.exists():
        return ids
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                ids.add(json.loads(line)["alert_id"])
            except (ValueError, KeyError, TypeError):
                continue  # a line someone added by hand: keep it, it just holds no known id
    return ids


def deliver_jsonl(records: Iterable[dict], path: str | os.PathLike[str]) -> int:
    """Append the records whose alert_id the file does not hold yet; return how many.

    Append-only, so tailing shippers (Filebeat, fluent-bit) see each alert once. An exclusive
    lock on a side file serialises concurrent runs (backfills). A crash mid-write can leave
    half a last line: it is cut off before appending, and since its id was never complete in
    the file, that alert is written again whole.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{target}.lock", "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _cut_partial_last_line(target)
        known = _known_ids(target)
        new_lines = []
        for record in records:
            if record["alert_id"] not in known:
                known.add(record["alert_id"])
                new_lines.append(json.dumps(record, sort_keys=True, allow_nan=False) + "\n")
        if new_lines:
            with target.open("a", encoding="utf-8") as out:
                out.write("".join(new_lines))
                out.flush()
                os.fsync(out.fileno())
        return len(new_lines)


def _cut_partial_last_line(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        data = handle.read()
        if not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)


# --- stage ----------------------------------------------------------------------------------


def body(spark: Any, ctx: StageContext) -> None:
    if not lake.exists(spark, ctx.path("scores")):
        raise StageFailed(f"no scores partition at {ctx.path('scores')}")
    records = build_alerts(spark, ctx)
    (
        spark.createDataFrame(records, ALERT_SCHEMA)
        .coalesce(1)
        .write.mode("overwrite")
        .parquet(ctx.path("alerts"))
    )
    sinks = []
    for sink in ctx.usecase.alert.sinks:
        path = sink_path(sink, ctx.lake_root)
        sinks.append(
            {"type": sink.type, "path": path, "delivered_new": deliver_jsonl(records, path)}
        )
    write_run_record(
        spark,
        ctx,
        alerts=len(records),
        delivered_new=sum(s["delivered_new"] for s in sinks),
        sinks=sinks,
        top_reasons=[f"{r['entity']}: {r['reason']}" for r in records[:5]],
    )


def main(argv: list[str] | None = None) -> int:
    return run_main("alert", body, argv)


if __name__ == "__main__":
    sys.exit(main())
