"""Make sure an interval's files are in the source store, then select the interval's lines.

The ingest stage of every use case calls ``ensure_taken`` (parse what the store does not hold
yet, or holds in an older version) and then reads only the store's day folders its interval
touches. Counts stay per file and exact: ``read == parsed + quarantined + out_of_window``, where
``out_of_window`` is the file's parsed lines outside the interval (they stay in the store, where
the run of their own interval selects them) and ``quarantined`` all of the file's unparsed lines
(they have no trustworthy time, so every interval that reads the file reports them).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.lake import storage
from spark_jobs.lake.records import FileCounts
from spark_jobs.lake.source_store import FileEntry, SourceStore, utc_days
from spark_jobs.parsing.schema import PARSED_SCHEMA, QUARANTINE_SCHEMA, in_interval
from spark_jobs.parsing.sources import with_line_numbers
from spark_jobs.parsing.taking import take_files

log = logging.getLogger("botwatch")

_QUARANTINE_READ = T.StructType(
    [
        T.StructField("source_file", T.StringType()),
        T.StructField("line", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("block_start", T.LongType()),
        T.StructField("row_id", T.LongType()),
    ]
)


def ensure_taken(
    spark: SparkSession, store: SourceStore, files: list[storage.FileStat], source: Any
) -> list[FileEntry]:
    """Entries of ``files`` as they are now, parsing only the new and changed ones."""
    current: dict[str, FileEntry] = {}
    replaced: list[FileEntry] = []
    to_take: list[storage.FileStat] = []
    digests: dict[str, str] = {}
    for stat in files:
        entry = store.entry(spark, stat.path)
        if entry is not None and entry.size == stat.size and entry.mtime_ms == stat.mtime_ms:
            current[stat.path] = entry
            continue
        digests[stat.path] = storage.digest(spark, stat.path, stat.size)
        if entry is not None and entry.size == stat.size and entry.digest == digests[stat.path]:
            # touched or copied, not changed: remember the new mtime, parse nothing
            current[stat.path] = entry.model_copy(update={"mtime_ms": stat.mtime_ms})
            store.commit(spark, current[stat.path])
            continue
        if entry is not None:
            replaced.append(entry)
        to_take.append(stat)
    if to_take:
        began = time.monotonic()
        for entry in take_files(spark, store, to_take, digests, source):
            current[entry.path] = entry
        log.info(
            "took %d file(s) into %s in %.1f s; %d already there",
            len(to_take), store.root, time.monotonic() - began, len(files) - len(to_take),
        )  # fmt: skip
    else:
        log.info("all %d file(s) already in %s", len(files), store.root)
    for old in replaced:
        store.drop_take_of(spark, old)
    return [current[f.path] for f in files]


def parsed_lines(
    spark: SparkSession,
    store: SourceStore,
    entries: list[FileEntry],
    window: tuple[datetime, datetime] | None,
) -> DataFrame:
    """The parsed lines of ``entries`` inside ``window`` (None: all of them)."""
    days = utc_days(*window) if window else None
    folders = [folder for e in entries for folder in store.parsed_folders(e, days)]
    if not folders:
        return spark.createDataFrame([], PARSED_SCHEMA)
    lines = spark.read.schema(PARSED_SCHEMA).parquet(*folders)
    return lines.where(in_interval(*window)) if window else lines


def quarantined_lines(
    spark: SparkSession, store: SourceStore, entries: list[FileEntry]
) -> DataFrame:
    """Every quarantined line of ``entries``, numbered, and one row per damaged file's tail."""
    damage = [(e.path, e.read, "", "truncated_file") for e in entries if e.truncated]
    tails = spark.createDataFrame(damage, QUARANTINE_SCHEMA)
    folders = [folder for e in entries for folder in store.quarantine_folders(e)]
    if not folders:
        return tails
    offsets = [(e.path, *block) for e in entries for block in e.blocks]
    bad = spark.read.schema(_QUARANTINE_READ).parquet(*folders)
    numbered = with_line_numbers(spark, bad, offsets)
    return numbered.select(*QUARANTINE_SCHEMA.fieldNames()).unionByName(tails)


def file_counts(entries: list[FileEntry], in_window: dict[str, int]) -> list[FileCounts]:
    """Per file: ``in_window`` parsed lines of the interval, the rest of its parsed lines out of
    the window, all of its quarantined lines."""
    return [
        FileCounts(
            source_file=e.path,
            read=e.read,
            parsed=in_window.get(e.path, 0),
            quarantined=e.quarantined,
            out_of_window=e.parsed - in_window.get(e.path, 0),
            truncated=e.truncated,
            reasons=e.reasons,
        )
        for e in entries
    ]


def lines_per_file(
    spark: SparkSession, path: str, window: tuple[datetime, datetime]
) -> dict[str, int]:
    """Lines per ``source_file`` of a written partition inside ``window`` (a scan of two small
    columns, cheaper than counting before the write)."""
    inside = F.count_if(in_interval(*window)).alias("n")
    rows = spark.read.parquet(path).groupBy("source_file").agg(inside).collect()
    return {row["source_file"]: row["n"] for row in rows}
