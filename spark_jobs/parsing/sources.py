"""Read raw log files so that every line can be traced back and none is lost.

Three things a plain ``spark.read.text(glob)`` does not give: the list of files the glob
matched (empty files included, so a run can say it read a file that held nothing); the line
number of each line within its file, for quarantine; and a truncated ``.gz`` / ``.bz2`` file
read up to its damage instead of failing the whole run or silently dropping the file.

Line numbers: Spark splits big plain files into blocks read by different tasks, so a line's
number is (lines in the file's earlier blocks) + (its position within its block). Positions
come from ``monotonically_increasing_id`` taken right at the scan, where one block's rows are
contiguous and in file order; the per-block counts come from the aggregation ingest runs anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.errors import StageFailed
from spark_jobs.lake import storage


def list_file_stats(
    spark: SparkSession, glob: str, missing_ok: bool = False
) -> list[storage.FileStat]:
    """Files (not folders) matching a Hadoop glob, with size and mtime, sorted by path (in the
    ``file:/x`` spelling Spark gives its rows).

    ``missing_ok`` is for hourly landing folders, where an hour with no traffic has no file.
    """
    stats = sorted(
        (replace(stat, path=same_form(stat.path)) for stat in storage.glob(spark, glob)
         if stat.is_file),
        key=lambda stat: stat.path,
    )  # fmt: skip
    if not stats and not missing_ok:
        raise StageFailed(f"no log file matches {glob}")
    return stats


def list_files(spark: SparkSession, glob: str, missing_ok: bool = False) -> list[str]:
    """The paths of ``list_file_stats``."""
    return [stat.path for stat in list_file_stats(spark, glob, missing_ok)]


def read_lines(
    spark: SparkSession, files: list[str], tolerate_damage: frozenset[str] = frozenset()
) -> DataFrame:
    """``value`` lines of ``files`` with ``source_file`` and the position columns.

    Lines split on ``\\n`` only, so a stray ``\\r`` inside a user agent does not cut a line in two;
    invalid UTF-8 becomes U+FFFD (Parquet and Arrow need valid strings). Files in
    ``tolerate_damage`` are read up to the point where they are damaged.
    """
    strict = [f for f in files if f not in tolerate_damage]
    readers = []
    if strict:
        readers.append((spark.read, strict))
    if tolerate_damage:
        readers.append((spark.read.option("ignoreCorruptFiles", "true"), sorted(tolerate_damage)))
    frames = [
        # Row ids only need to be ordered within one file block, so ids of the two reads may
        # overlap.
        reader.option("lineSep", "\n")
        .text(paths)
        .select(
            F.make_valid_utf8("value").alias("value"),
            F.col("_metadata.file_path").alias("source_file"),
            F.col("_metadata.file_block_start").alias("block_start"),
            F.monotonically_increasing_id().alias("row_id"),
        )
        for reader, paths in readers
    ]
    return frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])


def damaged_file(exc: BaseException) -> str | None:
    """The file a read failed on (a truncated ``.gz``, say), or None for any other failure.

    Spark reports it as ``FAILED_READ_FILE`` with a ``path`` parameter, possibly wrapped in a
    job-abort exception: over Spark Connect the error's parameters, or failing those its
    message, say so; in a classic session the JVM cause chain is searched.
    """
    if (path := _failed_read_path(exc)) is not None:
        return same_form(path)
    java = getattr(exc, "java_exception", None)
    for _ in range(10):
        if java is None:
            return None
        try:
            condition = str(java.getCondition() or "")
            params = dict(java.getMessageParameters() or {})
        except Exception:  # noqa: BLE001 - not a SparkThrowable: look at its cause
            condition, params = "", {}
        if condition.startswith("FAILED_READ_FILE") and params.get("path"):
            return same_form(str(params["path"]))
        java = java.getCause()
    return None


_FAILED_READ = re.compile(
    r"FAILED_READ_FILE[^\n]*?(?:file|path)\s+`?((?:file|s3a?|hdfs|gs):[^`\s]+)`?"
)


def _failed_read_path(exc: BaseException) -> str | None:
    """The ``path`` of a ``FAILED_READ_FILE`` error raised in this process (Spark Connect)."""
    for error in (exc, exc.__cause__):
        if error is None or getattr(error, "java_exception", None) is not None:
            continue
        try:
            condition = str(error.getCondition() or "")  # type: ignore[attr-defined]
            params = dict(error.getMessageParameters() or {})  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - not a PySparkException
            condition, params = "", {}
        if condition.startswith("FAILED_READ_FILE") and params.get("path"):
            return str(params["path"])
        if (match := _FAILED_READ.search(str(error))) is not None:
            return match.group(1)
    return None


def same_form(path: str) -> str:
    """``file:///x`` (Spark's errors), ``file:/x`` (Spark's file paths) and ``/x`` name the same
    file: one spelling, ``file:/x``, the one Spark's ``_metadata.file_path`` uses."""
    if path.startswith("/"):
        return f"file:{path}"
    return re.sub(r"^file:/+", "file:/", path)


BLOCK_SCHEMA = T.StructType(
    [
        T.StructField("source_file", T.StringType()),
        T.StructField("block_start", T.LongType()),
        T.StructField("first_row_id", T.LongType()),
        T.StructField("first_line_no", T.LongType()),
    ]
)


@dataclass
class FileAccount:
    """What happened to the lines of one file; ``read == parsed + quarantined + out_of_window``."""

    source_file: str
    read: int = 0
    parsed: int = 0
    quarantined: int = 0
    out_of_window: int = 0
    truncated: bool = False
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_file": self.source_file,
            "read": self.read,
            "parsed": self.parsed,
            "quarantined": self.quarantined,
            "out_of_window": self.out_of_window,
            "truncated": self.truncated,
            "reasons": dict(sorted(self.reasons.items(), key=lambda kv: -kv[1])),
        }


def block_counts(lines: DataFrame) -> list[dict[str, Any]]:
    """Per (file, block): lines, first row id, and counts by outcome, in one aggregation.

    ``lines`` has ``reason`` (null when parsed) and ``in_window``.
    """
    ok = F.col("reason").isNull()
    rows = (
        lines.groupBy("source_file", "block_start", "reason")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.min("row_id").alias("first_row_id"),
            F.count_if(ok & F.col("in_window")).alias("parsed"),
            F.count_if(ok & ~F.col("in_window")).alias("out_of_window"),
        )
        .collect()
    )
    return [row.asDict() for row in rows]


def account(
    files: list[str], blocks: list[dict[str, Any]], damaged: set[str]
) -> tuple[list[FileAccount], list[tuple[str, int, int, int]]]:
    """Per-file accounts, and (file, block_start, first_row_id, first_line_no) per block."""
    accounts = {f: FileAccount(f, truncated=f in damaged) for f in files}
    per_block: dict[tuple[str, int], list[int]] = {}
    for b in blocks:
        acc = accounts.setdefault(b["source_file"], FileAccount(b["source_file"]))
        acc.read += b["n"]
        acc.parsed += b["parsed"]
        acc.out_of_window += b["out_of_window"]
        if b["reason"] is not None:
            acc.quarantined += b["n"]
            acc.reasons[b["reason"]] = acc.reasons.get(b["reason"], 0) + b["n"]
        key = (b["source_file"], b["block_start"])
        lines, first = per_block.get(key, [0, b["first_row_id"]])
        per_block[key] = [lines + b["n"], min(first, b["first_row_id"])]
    offsets: list[tuple[str, int, int, int]] = []
    next_line: dict[str, int] = {}
    for (source, start), (lines, first_row) in sorted(per_block.items()):
        line_no = next_line.get(source, 1)
        offsets.append((source, start, first_row, line_no))
        next_line[source] = line_no + lines
    for source in damaged:
        # The unreadable rest of a damaged file counts as one quarantined "line".
        acc = accounts[source]
        acc.read += 1
        acc.quarantined += 1
        acc.reasons["truncated_file"] = 1
    return [accounts[f] for f in sorted(accounts)], offsets


def with_line_numbers(spark: SparkSession, df: DataFrame, offsets: list[tuple]) -> DataFrame:
    """Add ``line_no`` (1-based, per file) to rows that still carry their position columns."""
    blocks = F.broadcast(spark.createDataFrame(offsets, BLOCK_SCHEMA))
    joined = df.join(blocks, ["source_file", "block_start"], "left")
    return joined.withColumn(
        "line_no", F.col("row_id") - F.col("first_row_id") + F.col("first_line_no")
    ).drop("first_row_id", "first_line_no")


def damage_rows(spark: SparkSession, accounts: list[FileAccount]) -> DataFrame:
    """One quarantine row per damaged file, numbered after its last readable line."""
    from spark_jobs.parsing.schema import QUARANTINE_SCHEMA

    rows = [(a.source_file, a.read, "", "truncated_file") for a in accounts if a.truncated]
    return spark.createDataFrame(rows, QUARANTINE_SCHEMA)
