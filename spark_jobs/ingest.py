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

An interval without data is a success, not a failure: when no file of the interval exists but
the source has files of other intervals, or every line read is outside the interval, the stage
writes the empty partitions and a record with ``outcome: no_data`` and the reason; the later
stages read it and finish at once (``stage.runner``). A source that matches no file of any
interval is a misconfiguration and fails. Lines that do not parse are data: the gate judges them.
"""

from __future__ import annotations

import sys
from typing import Any

from pyspark.sql import functions as F

from spark_jobs.errors import StageFailed
from spark_jobs.lake.records import FileCounts, IngestRecord
from spark_jobs.lake.runs import StageContext
from spark_jobs.parsing.files import parse_files, quarantine_of
from spark_jobs.parsing.schema import PARSED_SCHEMA, QUARANTINE_SCHEMA, in_interval
from spark_jobs.parsing.sources import list_files
from spark_jobs.stage.runner import run_main, write_run_record


def find_files(spark: Any, ctx: StageContext, globs: list[str]) -> list[str]:
    """The interval's files; [] when none matches but the source has files of other intervals
    (the logs ended, or have not arrived: no data). A source that matches no file at all is a
    misconfiguration and fails the stage."""
    files = sorted({f for glob in globs for f in list_files(spark, glob, missing_ok=True)})
    if files:
        return files
    everywhere = ctx.usecase.source_glob_all()
    if not list_files(spark, everywhere, missing_ok=True):
        raise StageFailed(
            f"no log file matches {everywhere} for any interval: check source.path"
            " (and $BOTWATCH_LOGS) of the config"
        )
    return []


def why_no_data(record: IngestRecord, globs: list[str]) -> str | None:
    """Why this interval has no data, or None when it has lines to validate. Lines that did not
    parse are data (a broken feed): they go on to the gate, which fails on them."""
    if record.parsed or record.quarantined:
        return None
    if not record.files:
        return f"no log file of this interval matches {' or '.join(globs)}"
    if not record.read:
        return f"the interval's {len(record.files)} log file(s) hold no lines"
    return f"all {record.read:,} lines of {len(record.files)} file(s) are outside the interval"


def write_partitions(ctx: StageContext, parsed: Any, late: Any, quarantined: Any) -> None:
    """Every dataset of the interval, even empty: downstream stages read the folders."""
    from spark_jobs.features.enrichment import enrich

    enrich(parsed).write.mode("overwrite").parquet(ctx.path("parsed"))
    late.write.mode("overwrite").parquet(ctx.path("out_of_window"))
    quarantined.write.mode("overwrite").parquet(ctx.path("quarantine"))


def parse_and_write(
    spark: Any, ctx: StageContext, files: list[str]
) -> tuple[list[FileCounts], dict[str, Any]]:
    """Parse ``files`` once, write the interval's partitions; return the per-file counts and
    the format the record names (the one detected with ``format: auto``)."""
    src = ctx.usecase.source
    source = parse_files(
        spark, files, src.format_spec, in_interval(ctx.start, ctx.end), src.log_timezone,
        src.json_fields,
    )  # fmt: skip
    try:
        ok = F.col("reason").isNull()
        take = ok if src.out_of_window == "include" else ok & F.col("in_window")
        parsed = source.lines.where(take).select(*PARSED_SCHEMA.fieldNames())
        late = source.lines.where(ok & ~F.col("in_window")).select(*PARSED_SCHEMA.fieldNames())
        if src.out_of_window != "keep":
            late = late.limit(0)
        write_partitions(ctx, parsed, late, quarantine_of(spark, source))
    finally:
        source.unpersist()
    files_out = [FileCounts(**a.as_dict()) for a in source.accounts]
    if src.out_of_window == "include":
        # Lines outside the interval were parsed into this run: count them so.
        files_out = [f.included() for f in files_out]
    detection = source.detection.as_dict() if source.detection else None
    return files_out, {"format": source.format_name, "format_detection": detection}


def body(spark: Any, ctx: StageContext) -> None:
    globs = ctx.usecase.source_globs(ctx.start, ctx.end)
    files = find_files(spark, ctx, globs)
    if files:
        files_out, fmt = parse_and_write(spark, ctx, files)
    else:
        empty = spark.createDataFrame([], PARSED_SCHEMA)
        write_partitions(ctx, empty, empty, spark.createDataFrame([], QUARANTINE_SCHEMA))
        files_out, fmt = [], {"format": None, "format_detection": None}
    record = IngestRecord.of_files(
        files_out, out_of_window_policy=ctx.usecase.source.out_of_window, globs=globs, **fmt
    )
    if (reason := why_no_data(record, globs)) is not None:
        record = record.model_copy(update={"outcome": "no_data", "no_data_reason": reason})
    write_run_record(spark, ctx, record)


def main(argv: list[str] | None = None) -> int:
    return run_main("ingest", body, argv)


if __name__ == "__main__":
    sys.exit(main())
