"""Where every stage reads and writes in the lake, and small side files (JSON) on any Hadoop FS.

Layout under the lake root, one partition per use case and data interval::

    parsed/use_case=<id>/interval=<key>/        Parquet, one row per parsed log line
    quarantine/use_case=<id>/interval=<key>/    Parquet, lines that did not parse: file, line, reason
    features/use_case=<id>/interval=<key>/      Parquet, one row per session
    scores/use_case=<id>/interval=<key>/        Parquet, one row per session with score 0-100
    alerts/use_case=<id>/interval=<key>/        Parquet, one row per alert raised or suppressed
    outbox/use_case=<id>/interval=<key>/alerts.jsonl   ECS alert documents raised (see outbox)
    deliveries/use_case=<id>/interval=<key>/<sink>.jsonl  delivery ledger per sink (see outbox)
    reports/use_case=<id>/interval=<key>/report.html   the run's HTML report
    runs/use_case=<id>/interval=<key>/<stage>.json   counts and outcome of each stage
    sources/<format>-<key>/                     each log file parsed once, shared by use cases
                                                (see source_store)
    models/use_case=<id>/versions/<version>/    the model registry (see model_registry)
    models/use_case=<id>/champion.json          which version serves which intervals
    validation/use_case=<id>/interval=<key>/<suite>.json   Great Expectations results
    feedback/use_case=<id>/<alert_id>.json      an analyst's verdict on one alert (see
                                                alerting.feedback); not per interval, never
                                                overwritten by a stage

Each stage overwrites exactly its own partition, so reruns and backfills are idempotent (a model
version is named after its interval and config, so retraining an interval rewrites it). The
interval key is the interval's start in UTC (``20150517T000000Z``): it sorts like time, and has
no ``:`` (Hadoop paths reject colons in relative names).
"""

from __future__ import annotations

from datetime import UTC, datetime

DATASETS = (
    "parsed",
    "quarantine",
    "features",
    "scores",
    "alerts",
    "outbox",
    "deliveries",
    "reports",
    "runs",
    "models",
    "validation",
    "feedback",
)


def iso_utc(instant: datetime) -> str:
    """``2015-05-17T00:00:00Z``: one spelling per instant, since alert ids hash it."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def interval_key(start: datetime) -> str:
    return start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_instant(text: str) -> datetime:
    """Parse an interval bound as Airflow renders it (``2015-05-17 00:00:00+00:00`` or ISO)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def key_to_datetime(key: str) -> datetime:
    return datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def dataset_path(root: str, dataset: str, use_case: str) -> str:
    """The folder of one dataset of one use case (the base path for partition discovery)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}")
    return f"{root.rstrip('/')}/{dataset}/use_case={use_case}"


def partition_path(root: str, dataset: str, use_case: str, start: datetime) -> str:
    return f"{dataset_path(root, dataset, use_case)}/interval={interval_key(start)}"
