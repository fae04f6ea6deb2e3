"""Analysts' verdicts on alerts (``botwatch feedback``): stored, read back and checked.

A verdict says an alert was a false positive (the entity is fine: quiet it, and train on it as
human) or a true positive (a bot: train on it as one). It lives in the lake beside the data it
judges, one JSON file per alert::

    feedback/use_case=<id>/<alert_id>.json

holding the verdict (``verdict``, ``reason``, ``until``, ``analyst``, ``recorded_at``) and what
the alert was about (entity, client, user agent, interval, session, score, model version), so
the alert stage (``lifecycle.verdict_reason``) and the train stage (``models.labels``) need
nothing but this folder. A file is replaced atomically (a unique temporary name, then a
rename), and one with the same verdict is left untouched, so giving a verdict twice changes
nothing; the backtest keeps this folder (``stage.backtest.KEPT_DATASETS``).

The alert ids are checked against the use case's alert records (the ``alerts`` dataset), read
with pyarrow so the command starts no JVM; a lake pyarrow cannot open is read with Spark.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from spark_jobs.alerting.lifecycle import (
    FALSE_POSITIVE,
    TRUE_POSITIVE,
    VERDICT_REASON,
    VERDICTS,
    Verdict,
)
from spark_jobs.errors import BotwatchError
from spark_jobs.lake import layout, storage

log = logging.getLogger("botwatch.feedback")

#: What is read of an alert record (``candidates.ALERT_SCHEMA``); a verdict file keeps all but
#: ``status`` (which a rerun may change).
ALERT_FIELDS = ("alert_id", "use_case", "status", "entity", "entity_key", "client", "user_agent",
                "interval_start", "interval_end", "session", "score", "model_version")  # fmt: skip
#: The shortest alert id prefix accepted (suppression reasons quote the first 12 characters).
MIN_PREFIX = 8
_HEX = re.compile(r"[0-9a-f]+")


class FeedbackError(BotwatchError, ValueError):
    """A verdict that cannot be recorded: an unknown or ambiguous alert id, a bad field."""


@dataclass(frozen=True)
class VerdictInput:
    """One verdict as given (command line or a line of a labels file), its alert resolved."""

    alert: Mapping[str, Any]
    verdict: str
    reason: str
    analyst: str
    until: date | None = None


def folder(lake_root: str, use_case: str) -> str:
    return layout.dataset_path(lake_root, "feedback", use_case)


def verdict_path(lake_root: str, use_case: str, alert_id: str) -> str:
    return f"{folder(lake_root, use_case)}/{alert_id}.json"


# --- the alerts a verdict may name ----------------------------------------------------------


def _read_with_spark(spark: Any, path: str) -> list[dict[str, Any]]:
    if spark is None:
        from spark_jobs.session import spark_session

        spark = spark_session("botwatch-feedback", "local")
    df = spark.read.parquet(path)
    return [r.asDict() for r in df.select(*[c for c in ALERT_FIELDS if c in df.columns]).collect()]


def read_alerts(lake_root: str, use_case: str, spark: Any = None) -> list[dict[str, Any]]:
    """Every alert record (raised or suppressed) of the use case, as dicts of ``ALERT_FIELDS``."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    from pyarrow import fs as pafs

    path = layout.dataset_path(lake_root, "alerts", use_case)
    try:
        fs, inner, _ = storage.filesystem(spark, path)
        if fs.get_file_info(inner).type != pafs.FileType.Directory:
            return []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ImportError):
        return _read_with_spark(spark, path)  # a file system pyarrow cannot open
    dataset = ds.dataset(inner, filesystem=fs, format="parquet", partitioning="hive")
    columns = [c for c in ALERT_FIELDS if c in dataset.schema.names]
    return dataset.to_table(columns=columns).to_pylist()


class AlertIndex:
    """The use case's alert records by id, for resolving what an analyst typed."""

    def __init__(self, use_case: str, alerts: Iterable[Mapping[str, Any]]) -> None:
        self.use_case = use_case
        self.by_id = {a["alert_id"]: a for a in alerts if a.get("alert_id")}

    def resolve(self, text: str) -> Mapping[str, Any]:
        """The alert whose id is ``text`` or starts with it (at least ``MIN_PREFIX`` hex
        characters); FeedbackError when none or several do."""
        ref = text.strip().lower()
        if len(ref) < MIN_PREFIX or len(ref) > 64 or not _HEX.fullmatch(ref):
            raise FeedbackError(
                f"{text!r} is not an alert id: give its sha256 or its first {MIN_PREFIX} or more "
                "hex characters (e.g. the first 12)"
            )
        found = sorted(aid for aid in self.by_id if aid.startswith(ref))
        if not found:
            raise FeedbackError(
                f"no alert {ref} among the {len(self.by_id)} alert record(s) of use case "
                f"{self.use_case} in the lake"
            )
        if len(found) > 1:
            shown = ", ".join(aid[: len(ref) + 4] for aid in found[:5])
            raise FeedbackError(
                f"alert id {ref} is ambiguous: {len(found)} alerts start with it ({shown}); "
                "give more characters"
            )
        return self.by_id[found[0]]


def check_verdict(verdict: str, until: date | None, alert: Mapping[str, Any]) -> str:
    """The verdict's canonical name; FeedbackError for an unknown one or an ``until`` that
    does not fit (on a true positive, or before the alerted interval)."""
    name = verdict.strip().lower().replace("-", "_")
    if name not in VERDICTS:
        raise FeedbackError(f"verdict {verdict!r}: use {' or '.join(VERDICTS)}")
    if until is not None:
        if name == TRUE_POSITIVE:
            raise FeedbackError("until applies to false positives only (a true positive never "
                                "suppresses)")  # fmt: skip
        day = layout.parse_instant(alert["interval_start"]).date()
        if until < day:
            raise FeedbackError(f"until {until} is before the alerted interval ({day})")
    return name


# --- verdict files -------------------------------------------------------------------------


def verdict_record(given: VerdictInput, recorded_at: str) -> dict[str, Any]:
    """The JSON of one verdict file: the verdict, then what its alert was about."""
    alert = given.alert
    record = {
        "alert_id": alert["alert_id"],
        "verdict": given.verdict,
        "reason": given.reason,
        "until": given.until.isoformat() if given.until else None,
        "analyst": given.analyst,
        "recorded_at": recorded_at,
    }
    return record | {k: alert.get(k) for k in ALERT_FIELDS if k not in (*record, "status")}


def _same(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Equal but for when they were recorded (a rerun of the same command)."""
    strip = lambda r: {k: v for k, v in r.items() if k != "recorded_at"}  # noqa: E731
    return strip(old) == strip(new)


def read_record(spark: Any, path: str) -> dict[str, Any] | None:
    """One verdict file, or None when it is missing or unreadable (logged)."""
    if not storage.exists(spark, path):
        return None
    try:
        record = storage.read_json(spark, path)
    except (OSError, ValueError) as exc:
        log.warning("verdict file %s is unreadable (%s); ignored", path, exc)
        return None
    return record if isinstance(record, dict) else None


def write_record(
    spark: Any, lake_root: str, use_case: str, record: dict[str, Any]
) -> tuple[str, dict[str, Any] | None]:
    """Store one verdict: (``recorded`` | ``unchanged`` | ``replaced``, the verdict it found).
    With the same verdict already there (``unchanged``) the file is not touched."""
    path = verdict_path(lake_root, use_case, record["alert_id"])
    old = read_record(spark, path)
    if old is not None and _same(old, record):
        return "unchanged", old
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    temp = f"{folder(lake_root, use_case)}/.{record['alert_id']}.{uuid.uuid4().hex}.tmp"
    storage.write_text(spark, temp, text)
    try:
        storage.rename(spark, temp, path)
    except BaseException:
        storage.delete(spark, temp)
        raise
    return ("recorded" if old is None else "replaced"), old


def read_records(spark: Any, lake_root: str, use_case: str) -> list[dict[str, Any]]:
    """Every verdict of the use case, oldest alerted interval first."""
    base = folder(lake_root, use_case)
    names = [n for n in storage.list_names(spark, base) if n.endswith(".json")]
    found = [read_record(spark, f"{base}/{n}") for n in names if not n.startswith(".")]
    records = [r for r in found if r is not None and r.get("verdict") in VERDICTS]
    return sorted(records, key=lambda r: (str(r.get("interval_start")), r["alert_id"]))


def to_verdict(record: Mapping[str, Any]) -> Verdict:
    until = record.get("until")
    return Verdict(
        alert_id=record["alert_id"],
        entity=record["entity"],
        verdict=record["verdict"],
        reason=record.get("reason") or "",
        analyst=record.get("analyst") or "unknown",
        interval_start=layout.parse_instant(record["interval_start"]),
        interval_end=layout.parse_instant(record["interval_end"]),
        until=date.fromisoformat(until) if until else None,
        session=record.get("session"),
    )


def load_verdicts(spark: Any, lake_root: str, use_case: str) -> list[Verdict]:
    """The use case's verdicts, for ``lifecycle.decide`` and the training labels."""
    verdicts = []
    for record in read_records(spark, lake_root, use_case):
        try:
            verdicts.append(to_verdict(record))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("verdict on alert %s is incomplete (%s); ignored", record["alert_id"], exc)
    return verdicts


def counts(verdicts: Sequence[Verdict | Mapping[str, Any]]) -> dict[str, int]:
    """``{"false_positive": n, "true_positive": m}``."""
    kinds = [v.verdict if isinstance(v, Verdict) else v.get("verdict") for v in verdicts]
    return {kind: kinds.count(kind) for kind in (FALSE_POSITIVE, TRUE_POSITIVE)}


def by_verdict(suppressed: Sequence[Mapping[str, Any]]) -> list[str]:
    """``entity: reason`` of the alert records an analyst's verdict suppressed."""
    return [
        f"{r['entity']}: {r['suppression']}"
        for r in suppressed
        if str(r.get("suppression") or "").startswith(VERDICT_REASON)
    ]


def record_fields(
    spark: Any, lake_root: str, use_case: str, suppressed: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The alert run record's ``verdicts``: how many candidates verdicts suppressed, the first
    20 of them (``entity: reason``), and the verdicts recorded for the use case by kind."""
    mine = by_verdict(suppressed)
    recorded = counts(read_records(spark, lake_root, use_case))
    return {"verdicts": {"suppressed": len(mine), "suppressions": mine[:20], "recorded": recorded}}
