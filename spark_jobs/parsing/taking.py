"""Take log files into the source store: one pass from text to Parquet, nothing cached.

One Spark job reads the files, parses every line and writes each line once, partitioned by file,
outcome (parsed / quarantine) and UTC event month (``lake.source_store``), without sorting. Quarantined lines keep
their raw text and their position in the file; parsed lines keep their position only (two
longs, for the line numbers of quarantined lines). The counts per file, block, outcome, reason
and day come from a scan of the written take's small columns, not from a cache of the lines: the
earlier ingest cached every line, which cost most of its memory.

A file that fails mid-read (truncated compression) fails the write: the take is dropped and the
files are read again, that file up to its damage (its unreadable rest is one quarantined line).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.lake import storage
from spark_jobs.lake.source_store import FileEntry, SourceStore
from spark_jobs.parsing.formats.detection import Detection, detect_format, resolve_format
from spark_jobs.parsing.json_lines import parse_json_lines
from spark_jobs.parsing.lines import parse_lines
from spark_jobs.parsing.schema import PARSED_SCHEMA
from spark_jobs.parsing.sources import account, damaged_file, read_lines

#: The store's row: the parsed columns, then what a quarantined line keeps.
POSITION_COLUMNS = ("line", "reason", "block_start", "row_id")
PARTITION_COLUMNS = ("file_id", "outcome", "month")
#: Output files a write task keeps open at once (one per file, outcome and month it meets)
#: before it falls back to sorting its rows: a sort of every line is most of a take's cost.
CONCURRENT_WRITERS = "64"


def store_rows(parsed: DataFrame) -> DataFrame:
    """Parsed lines as the store writes them: raw text only on quarantined lines."""
    ok = F.col("reason").isNull()
    return parsed.select(
        *[F.col(f.name).cast(f.dataType) for f in PARSED_SCHEMA.fields],
        F.when(~ok, F.col("value")).alias("line"),
        "reason",
        "block_start",
        "row_id",
        F.substring(F.sha2(F.col("source_file"), 256), 1, 16).alias("file_id"),
        F.when(ok, F.lit("parsed")).otherwise(F.lit("quarantine")).alias("outcome"),
        F.when(ok, F.date_format("ts", "yyyy-MM")).alias("month"),
        F.when(ok, F.date_format("ts", "yyyy-MM-dd")).alias("day"),
    )


def _parse(raw: DataFrame, source: Any) -> tuple[DataFrame, str, Detection | None]:
    detection = detect_format(raw) if source.format_spec == "auto" else None
    fmt = detection.name if detection else resolve_format(source.format_spec)
    if fmt == "json":
        parsed = parse_json_lines(raw, source.json_fields, source.log_timezone)
    else:
        parsed = parse_lines(raw, fmt, source.log_timezone)
    name = fmt if isinstance(fmt, str) else f"{fmt.name}: {fmt.source}"
    return parsed, name, detection


@contextlib.contextmanager
def _session_conf(spark: SparkSession, key: str, value: str) -> Iterator[None]:
    """``key`` set to ``value`` for the block (a caller's session keeps its own value after)."""
    before = spark.conf.get(key, None)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)


def _write_take(
    spark: SparkSession, store: SourceStore, files: list[str], source: Any
) -> tuple[str, set[str], str, Detection | None]:
    """Write one take of ``files``; (take id, damaged files, format name, detection)."""
    damaged: set[str] = set()
    while True:
        take = uuid.uuid4().hex[:16]
        target = store.take_path(take)
        raw = read_lines(spark, files, frozenset(damaged))
        try:
            parsed, name, detection = _parse(raw, source)
            with _session_conf(
                spark, "spark.sql.maxConcurrentOutputFileWriters", CONCURRENT_WRITERS
            ):
                store_rows(parsed).write.partitionBy(*PARTITION_COLUMNS).parquet(target)
            return take, damaged, name, detection
        except Exception as exc:
            storage.delete(spark, target)
            bad = damaged_file(exc)
            if bad is None or bad in damaged or bad not in files:
                raise
            damaged.add(bad)


def _take_counts(spark: SparkSession, path: str) -> list[dict[str, Any]]:
    """Per file, block, reason and day: lines and the first row id (a scan of small columns)."""
    if not storage.exists(spark, path):
        return []  # files without a line write no folder
    df = spark.read.parquet(path)
    rows = (
        df.groupBy("source_file", "block_start", "reason", F.col("day").cast("string").alias("day"))
        .agg(F.count(F.lit(1)).alias("n"), F.min("row_id").alias("first_row_id"))
        .collect()
    )
    return [row.asDict() for row in rows]


def _entries(
    files: list[storage.FileStat],
    digests: dict[str, str],
    counts: list[dict[str, Any]],
    damaged: set[str],
    **common: Any,
) -> list[FileEntry]:
    blocks = [{**c, "parsed": 0 if c["reason"] else c["n"], "out_of_window": 0} for c in counts]
    accounts, offsets = account([f.path for f in files], blocks, damaged)
    days: dict[str, dict[str, int]] = {}
    for c in counts:
        if c["reason"] is None and c["day"] is not None:
            per_file = days.setdefault(c["source_file"], {})
            per_file[c["day"]] = per_file.get(c["day"], 0) + c["n"]
    stats = {f.path: f for f in files}
    return [
        FileEntry(
            path=a.source_file,
            size=stats[a.source_file].size,
            mtime_ms=stats[a.source_file].mtime_ms,
            read=a.read,
            parsed=a.parsed,
            quarantined=a.quarantined,
            truncated=a.truncated,
            reasons=a.reasons,
            days=dict(sorted(days.get(a.source_file, {}).items())),
            blocks=[
                [start, row, line] for src, start, row, line in offsets if src == a.source_file
            ],
            **common,
            digest=digests[a.source_file],
        )
        for a in accounts
    ]


def take_files(
    spark: SparkSession,
    store: SourceStore,
    files: list[storage.FileStat],
    digests: dict[str, str],
    source: Any,
) -> list[FileEntry]:
    """Parse ``files`` into one take and commit their entries (``digests``: by path)."""
    paths = [f.path for f in files]
    take, damaged, name, detection = _write_take(spark, store, paths, source)
    counts = _take_counts(spark, store.take_path(take))
    detection_json = detection.as_dict() if detection else None
    entries = _entries(
        files, digests, counts, damaged, take=take, format=name, format_detection=detection_json
    )
    for entry in entries:
        store.commit(spark, entry)
    return entries
