"""Ingest stage: raw log files of a data interval -> parsed, quarantine and out-of-window
Parquet partitions, and a run record that accounts for every line.

Run by ``spark-submit spark_jobs/ingest.py --config X --start ... --end ...``. Each line read
ends up in exactly one place, so per file ``read == parsed + quarantined + out_of_window``:

* parsed: lines that parsed and whose time is inside the interval, enriched (user agent,
  crawler flag, path class, client prefix);
* quarantined: lines that did not parse, whatever their time (they have no trustworthy time),
  with file, line number and reason; the unreadable rest of a truncated ``.gz`` counts as one;
* out_of_window: lines that parsed but whose time is outside the interval. ``source.
  out_of_window`` decides: ``keep`` stores them in their own partition (nothing is lost, a
  late line can be replayed), ``include`` scores them in this run (the files are cut by
  arrival time), ``drop`` only counts them (each run reads overlapping files and owns its part).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.format_detection import Detection, detect_format, resolve_format
from spark_jobs.job_common import StageContext, StageFailed, run_main, write_run_record
from spark_jobs.log_parsing import PARSED_SCHEMA, in_interval, parse_lines, split_parsed
from spark_jobs.log_sources import (
    FileAccount,
    account,
    block_counts,
    damage_rows,
    damaged_file,
    list_files,
    read_lines,
    with_line_numbers,
)

COUNTS = ("read", "parsed", "quarantined", "out_of_window")


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
                from spark_jobs.json_logs import parse_json_lines

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


def body(spark: Any, ctx: StageContext) -> None:
    from spark_jobs.enrichment import enrich

    src = ctx.usecase.source
    globs = ctx.usecase.source_globs(ctx.start, ctx.end)
    files = sorted(
        {f for glob in globs for f in list_files(spark, glob, missing_ok=len(globs) > 1)}
    )
    if not files:
        raise StageFailed(f"no log file matches {' or '.join(globs)}")
    source = parse_files(
        spark, files, src.format_spec, in_interval(ctx.start, ctx.end), src.log_timezone,
        src.json_fields,
    )  # fmt: skip
    try:
        ok = F.col("reason").isNull()
        take = ok if src.out_of_window == "include" else ok & F.col("in_window")
        # Always write every dataset, even empty: downstream stages read the folders.
        parsed = source.lines.where(take).select(*PARSED_SCHEMA.fieldNames())
        enrich(parsed).write.mode("overwrite").parquet(ctx.path("parsed"))
        late = source.lines.where(ok & ~F.col("in_window")).select(*PARSED_SCHEMA.fieldNames())
        if src.out_of_window != "keep":
            late = late.limit(0)
        late.write.mode("overwrite").parquet(ctx.path("out_of_window"))
        quarantine_of(spark, source).write.mode("overwrite").parquet(ctx.path("quarantine"))
    finally:
        source.unpersist()
    files_out = [_apply_policy(a.as_dict(), src.out_of_window) for a in source.accounts]
    totals = {name: sum(f[name] for f in files_out) for name in COUNTS}
    write_run_record(
        spark,
        ctx,
        **totals,
        truncated_files=sum(1 for a in source.accounts if a.truncated),
        format=source.format_name,
        format_detection=source.detection.as_dict() if source.detection else None,
        out_of_window_policy=src.out_of_window,
        files=files_out,
        globs=globs,
    )


def _apply_policy(counts: dict[str, Any], policy: str) -> dict[str, Any]:
    """With ``include``, lines outside the interval were parsed into this run: count them so."""
    if policy == "include":
        counts["included_out_of_window"] = counts["out_of_window"]
        counts["parsed"] += counts["out_of_window"]
        counts["out_of_window"] = 0
    return counts


def main(argv: list[str] | None = None) -> int:
    return run_main("ingest", body, argv)


if __name__ == "__main__":
    sys.exit(main())
