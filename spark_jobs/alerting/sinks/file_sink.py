"""JSONL file sink: an append-only file that tailing shippers (Filebeat, fluent-bit) pick up.

Append-only, so a tailer sees each alert once; an id already in the file is not written again
(the file is its own receiver-side dedup). An exclusive lock on a side file serialises
concurrent writers. A crash mid-write can leave half a last line: it is cut off before the next
append, and since its id never was complete in the file, that alert is written again whole.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Sequence
from pathlib import Path

from spark_jobs.alerting.sinks.base import DeliveryResult, alert_id


class FileSink:
    """Append alert documents to a local JSONL file.

    :param name: the sink's name in the use case (names its delivery ledger).
    :param path: the JSONL file; its folder is created when missing.
    """

    type = "file"

    def __init__(self, name: str, path: str | os.PathLike[str]) -> None:
        self.name = name
        self.path = Path(path)

    def deliver(self, docs: Sequence[dict]) -> list[DeliveryResult]:
        if not docs:
            return []
        try:
            written = self._append(docs)
        except OSError as exc:
            ids = tuple(alert_id(d) for d in docs)
            return [DeliveryResult(ids, False, 1, f"{type(exc).__name__}: {exc}")]
        return [
            DeliveryResult(
                (alert_id(d),), True, 1, "written" if alert_id(d) in written else "exists"
            )
            for d in docs
        ]

    def _append(self, docs: Sequence[dict]) -> set[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.lock", "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            _cut_partial_last_line(self.path)
            known = _known_ids(self.path)
            lines, written = [], set()
            for doc in docs:
                key = alert_id(doc)
                if key not in known:
                    known.add(key)
                    written.add(key)
                    lines.append(json.dumps(doc, sort_keys=True, allow_nan=False) + "\n")
            if lines:
                with self.path.open("a", encoding="utf-8") as out:
                    out.write("".join(lines))
                    out.flush()
                    os.fsync(out.fileno())
            return written


def _known_ids(path: Path) -> set[str]:
    ids: set[str] = set()
    if not path.exists():
        return ids
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                ids.add(alert_id(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                continue  # a line someone added by hand: keep it, it just holds no known id
    return ids


def _cut_partial_last_line(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        data = handle.read()
        if not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)
