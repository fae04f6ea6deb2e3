"""The source-level parsed store: each log file parsed once, shared by every use case and run.

A daily run of a monthly file used to parse the whole month each day, and every use case on the
same logs parsed it again. The store parses a file once, for every use case that reads it with
the same format settings, and keeps its lines by event month, so a run reads only its slice::

    sources/<format>-<key>/manifest/<file id>.json       what the store holds of one log file
    sources/<format>-<key>/takes/<take id>/file_id=<file id>/outcome=parsed/month=<YYYY-MM>/
    sources/<format>-<key>/takes/<take id>/file_id=<file id>/outcome=quarantine/month=__HIVE_DEFAULT_PARTITION__/

``<key>`` hashes what decides how a line parses (format spec, log time zone, JSON field names,
``PARSER_VERSION``), so two use cases share a store exactly when they would parse alike. A *take*
is one Spark job that parsed a set of files; it is written once and never changed.

**The manifest is the commit.** A file's entry (path, size, mtime, digest, counts per outcome and
day, which take holds it) is written, by an atomic replace, only after its take is complete;
readers read only the folders entries name. A take killed half-way is an orphan folder no entry
names: it is never read, and the next run takes the file again. A file whose size or mtime
changed (grown, rewritten, a late copy) is taken again and its entry replaced; one whose mtime
moved but whose bytes did not (same size and digest) is not. Two runs taking the same new file at
once each write a complete take; the last entry written wins and both are correct.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from spark_jobs.lake import storage

#: Bump when a parser change makes lines parse differently: every store then starts afresh.
PARSER_VERSION = 1
#: Spark's folder name for a null partition value (quarantined lines have no event time).
NULL_MONTH = "__HIVE_DEFAULT_PARTITION__"


def file_id(path: str) -> str:
    """A file's folder name in the store; the same as ``F.substring(F.sha2(path, 256), 1, 16)``."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]


def store_name(spec: str, log_timezone: str, json_fields: Mapping[str, list[str]]) -> str:
    """``<format>-<hash>``: readable, and different whenever lines would parse differently."""
    settings = {
        "format": spec,
        "log_timezone": log_timezone,
        "json_fields": {k: list(v) for k, v in sorted(json_fields.items())},
        "parser_version": PARSER_VERSION,
    }
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    slug = re.sub(r"[^a-z0-9]+", "_", spec.lower()).strip("_")[:24] or "custom"
    return f"{slug}-{key}"


class FileEntry(BaseModel):
    """What the store holds of one log file (its manifest entry)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    size: int
    mtime_ms: int
    digest: str
    take: str
    format: str
    format_detection: dict[str, Any] | None = None
    read: int
    parsed: int
    quarantined: int
    truncated: bool = False
    reasons: dict[str, int] = {}
    #: Parsed lines per UTC event day (``YYYY-MM-DD``).
    days: dict[str, int] = {}
    #: ``[block_start, first_row_id, first_line_no]`` per file block: the line numbers of
    #: quarantined lines, which keep only their position (``sources.with_line_numbers``).
    blocks: list[list[int]] = []

    def lost_or_double(self) -> bool:
        return self.read != self.parsed + self.quarantined


def utc_days(start: datetime, end: datetime) -> list[str]:
    """The UTC days ``[start, end)`` touches, as the store's ``day=`` folders name them."""
    first = start.astimezone(UTC).date()
    last = (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class SourceStore:
    """One store folder: its manifest and takes."""

    root: str

    @classmethod
    def of(cls, lake_root: str, spec: str, log_timezone: str, json_fields: Mapping) -> SourceStore:
        return cls(f"{lake_root.rstrip('/')}/sources/{store_name(spec, log_timezone, json_fields)}")

    def take_path(self, take: str) -> str:
        return f"{self.root}/takes/{take}"

    def manifest_path(self, path: str) -> str:
        return f"{self.root}/manifest/{file_id(path)}.json"

    def entry(self, spark: Any, path: str) -> FileEntry | None:
        """The file's entry, or None when the store has not taken it (or cannot read its
        entry: then it is taken again, which is always safe)."""
        where = self.manifest_path(path)
        if not storage.exists(spark, where):
            return None
        try:
            entry = FileEntry.model_validate(storage.read_json(spark, where))
        except (ValueError, OSError):
            return None
        return entry if entry.path == path else None

    def commit(self, spark: Any, entry: FileEntry) -> None:
        """Make ``entry`` the file's entry: from now on readers read its take."""
        text = json.dumps(entry.model_dump(), indent=1, sort_keys=True) + "\n"
        storage.replace_text(spark, self.manifest_path(entry.path), text)

    def is_current(self, spark: Any, entry: FileEntry | None, stat: storage.FileStat) -> bool:
        """Whether ``entry`` still describes the file as it is now."""
        if entry is None or entry.size != stat.size:
            return False
        if entry.mtime_ms == stat.mtime_ms:
            return True
        return entry.digest == storage.digest(spark, stat.path, stat.size)

    def file_folder(self, entry: FileEntry) -> str:
        return f"{self.take_path(entry.take)}/file_id={file_id(entry.path)}"

    def parsed_folders(self, entry: FileEntry, days: list[str] | None) -> list[str]:
        """The folders holding the file's parsed lines of ``days`` (None: every day): one per
        month, whose Parquet row groups a time filter then skips (log files are in time
        order). Months, not days: a take writes one folder per file and month without
        sorting its rows, and a years-long file has tens of them, not a thousand."""
        wanted = entry.days if days is None else [d for d in days if entry.days.get(d)]
        months = sorted({day[:7] for day in wanted})
        return [f"{self.file_folder(entry)}/outcome=parsed/month={month}" for month in months]

    def quarantine_folders(self, entry: FileEntry) -> list[str]:
        if not entry.quarantined - int(entry.truncated):
            return []
        return [f"{self.file_folder(entry)}/outcome=quarantine/month={NULL_MONTH}"]

    def drop_take_of(self, spark: Any, entry: FileEntry) -> None:
        """Remove a replaced entry's folder (its take may still hold other files)."""
        storage.delete(spark, self.file_folder(entry))
