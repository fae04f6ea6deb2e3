"""Read, parse and account for a set of log files: shared by the ingest stage, ``botwatch parse``
and ``botwatch eval``, so all three see the same lines the same way.

Each line read ends up in exactly one place, so per file ``read == parsed + quarantined +
out_of_window``; a file that fails mid-read (truncated compression) is re-read up to its damage
and the unreadable rest counts as one quarantined line.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.parsing.formats.detection import Detection, detect_format, resolve_format
from spark_jobs.parsing.json_lines import parse_json_lines
from spark_jobs.parsing.lines import parse_lines
from spark_jobs.parsing.schema import split_parsed
from spark_jobs.parsing.sources import (
    FileAccount,
    account,
    block_counts,
    damage_rows,
    damaged_file,
    read_lines,
    with_line_numbers,
)


@dataclass
class ParsedSource:
    """Lines of a set of files, parsed (cached: release with ``unpersist``), and their accounts."""

    lines: DataFrame
    accounts: list[FileAccount]
    offsets: list[tuple]
    format_name: str
    detection: Detection | None

    def unpersist(self) -> None:
        self.lines.unpersist()


def parse_files(
    spark: SparkSession,
    files: list[str],
    spec: str,
    window: Column | None = None,
    log_timezone: str = "UTC",
    json_fields: dict[str, list[str]] | None = None,
) -> ParsedSource:
    """Read, parse and count ``files``; shared by the ingest stage and ``botwatch parse``.

    A file that fails mid-read (truncated compression) is re-read up to its damage, so one bad
    file neither fails the run nor disappears from the counts.
    """
    damaged: set[str] = set()
    while True:
        raw = read_lines(spark, files, frozenset(damaged))
        lines = None
        try:
            detection = detect_format(raw) if spec == "auto" else None
            fmt = detection.name if detection else resolve_format(spec)
            if fmt == "json":
                parsed = parse_json_lines(raw, json_fields, log_timezone)
            else:
                parsed = parse_lines(raw, fmt, log_timezone)
            in_window = F.lit(True) if window is None else window
            # Parsed lines always have a time, so in_window is only null on quarantined ones.
            # The raw text is kept only where a line is quarantined: it is most of a row's
            # bytes, and the cache must fit the driver's memory to be worth having.
            lines = parsed.withColumns(
                {
                    "in_window": F.coalesce(in_window, F.lit(False)),
                    "value": F.when(F.col("reason").isNotNull(), F.col("value")),
                }
            ).persist(StorageLevel.MEMORY_AND_DISK)
            blocks = block_counts(lines)
            break
        except Exception as exc:
            if lines is not None:
                lines.unpersist()
            bad = damaged_file(exc)
            if bad is None or bad in damaged or bad not in files:
                raise
            damaged.add(bad)
    accounts, offsets = account(files, blocks, damaged)
    name = fmt if isinstance(fmt, str) else f"{fmt.name}: {fmt.source}"
    return ParsedSource(lines, accounts, offsets, name, detection)


def quarantine_of(spark: SparkSession, source: ParsedSource) -> DataFrame:
    """Quarantined lines with file, line number and reason (damaged tails included)."""
    bad = with_line_numbers(spark, source.lines.where(F.col("reason").isNotNull()), source.offsets)
    _, quarantined = split_parsed(bad)
    return quarantined.unionByName(damage_rows(spark, source.accounts))
