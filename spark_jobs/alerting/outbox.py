"""The outbox: every raised alert is written to the lake before anything is sent anywhere.

Two small append-mostly JSONL files per interval, written through a ``TextStore`` so the same
logic runs from the Spark driver (Hadoop FS: local, HDFS, s3a) and from the Airflow deliver task
(fsspec), and is tested without either:

- ``outbox/use_case=X/interval=K/alerts.jsonl``: the alert documents raised for interval K. A
  rerun adds to it and never drops an alert someone may already have received; it is also the
  realert state (who was alerted when).
- ``deliveries/use_case=X/interval=K/<sink>.jsonl``: one line per delivery attempt of K's alerts
  to one sink. An alert counts as delivered to a sink once any line says ``ok``; everything
  else is retried by later runs within ``alert.retry_days``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from typing import Protocol

log = logging.getLogger("botwatch.outbox")

OUTBOX = "outbox"
DELIVERIES = "deliveries"


class TextStore(Protocol):
    def read_text(self, path: str) -> str | None:
        """The file's text, or None when it does not exist."""

    def write_text(self, path: str, text: str) -> None:
        """Replace the file as a whole (never leave half a file behind)."""

    def list_names(self, folder: str) -> list[str]:
        """Names in the folder, sorted; [] when it does not exist."""


def _folder(root: str, dataset: str, use_case: str) -> str:
    return f"{root.rstrip('/')}/{dataset}/use_case={use_case}"


def outbox_file(root: str, use_case: str, key: str) -> str:
    return f"{_folder(root, OUTBOX, use_case)}/interval={key}/alerts.jsonl"


def ledger_file(root: str, use_case: str, key: str, sink: str) -> str:
    return f"{_folder(root, DELIVERIES, use_case)}/interval={key}/{sink}.jsonl"


def alert_id(doc: dict) -> str:
    return doc["event"]["id"]


def parse_jsonl(text: str | None, what: str) -> list[dict]:
    """Lines of a JSONL file; a damaged line is skipped with a warning, not fatal: losing
    the rest of the outbox to one bad line would be worse."""
    rows = []
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            log.warning("%s line %d is not JSON; skipped", what, number)
    return rows


def to_jsonl(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in rows)


def outbox_keys(store: TextStore, root: str, use_case: str) -> list[str]:
    """Interval keys that have an outbox, oldest first."""
    names = store.list_names(_folder(root, OUTBOX, use_case))
    return sorted(n.split("=", 1)[1] for n in names if n.startswith("interval="))


def read_outbox(store: TextStore, root: str, use_case: str, key: str) -> list[dict]:
    path = outbox_file(root, use_case, key)
    return parse_jsonl(store.read_text(path), path)


def write_outbox(
    store: TextStore, root: str, use_case: str, key: str, docs: list[dict]
) -> list[dict]:
    """Add ``docs`` to interval ``key``'s outbox and return its whole content.

    Alerts already in it stay (a rerun that no longer flags an entity must not take back an
    alert that may have been delivered); an alert with the same id is replaced by the new copy.
    """
    merged = {alert_id(d): d for d in read_outbox(store, root, use_case, key)}
    merged.update({alert_id(d): d for d in docs})
    ordered = sorted(
        merged.values(), key=lambda d: (-d["botwatch"]["score"], d["botwatch"]["entity"])
    )
    if ordered or docs:
        store.write_text(outbox_file(root, use_case, key), to_jsonl(ordered))
    return ordered


def outbox_between(
    store: TextStore, root: str, use_case: str, first_key: str, last_key: str
) -> dict[str, list[dict]]:
    """Outbox documents of the intervals ``first_key <= key <= last_key``, by key."""
    return {
        key: read_outbox(store, root, use_case, key)
        for key in outbox_keys(store, root, use_case)
        if first_key <= key <= last_key
    }


def read_ledger(store: TextStore, root: str, use_case: str, key: str, sink: str) -> list[dict]:
    path = ledger_file(root, use_case, key, sink)
    return parse_jsonl(store.read_text(path), path)


def delivered_ids(ledger: Iterable[dict]) -> set[str]:
    return {entry["alert_id"] for entry in ledger if entry.get("ok")}


def append_ledger(
    store: TextStore, root: str, use_case: str, key: str, sink: str, entries: list[dict]
) -> None:
    """Add attempt lines (read, append, replace: object stores cannot append)."""
    if not entries:
        return
    path = ledger_file(root, use_case, key, sink)
    store.write_text(path, (store.read_text(path) or "") + to_jsonl(entries))


class LocalStore:
    """Plain local files (tests, and the deliver task when the lake is a local folder)."""

    def read_text(self, path: str) -> str | None:
        try:
            with open(_local(path), encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def write_text(self, path: str, text: str) -> None:
        target = _local(path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(f"{target}.tmp", "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(f"{target}.tmp", target)

    def list_names(self, folder: str) -> list[str]:
        try:
            return sorted(os.listdir(_local(folder)))
        except FileNotFoundError:
            return []


class FsspecStore:
    """Remote lakes for the deliver task (which has no Spark): s3a:// is read as s3://."""

    def __init__(self) -> None:
        import fsspec  # noqa: F401 - fail early when it is missing

    @staticmethod
    def _fs(path: str):
        import fsspec

        return fsspec.core.url_to_fs(path.replace("s3a://", "s3://", 1))

    def read_text(self, path: str) -> str | None:
        fs, p = self._fs(path)
        return fs.cat_file(p).decode("utf-8") if fs.exists(p) else None

    def write_text(self, path: str, text: str) -> None:
        fs, p = self._fs(path)
        fs.pipe_file(p, text.encode("utf-8"))  # one PUT: object stores never show half

    def list_names(self, folder: str) -> list[str]:
        fs, p = self._fs(folder)
        if not fs.exists(p):
            return []
        return sorted(os.path.basename(e.rstrip("/")) for e in fs.ls(p, detail=False))


def _local(path: str) -> str:
    return path.removeprefix("file://").removeprefix("file:")


def store_for(root: str) -> TextStore:
    """A store that can reach the lake root without Spark."""
    plain = root.removeprefix("file://").removeprefix("file:")
    return LocalStore() if "://" not in plain else FsspecStore()
