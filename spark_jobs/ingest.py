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
from typing import Any

from pyspark.sql import functions as F

from spark_jobs.errors import StageFailed
from spark_jobs.lake.records import FileCounts, IngestRecord
from spark_jobs.lake.runs import StageContext
from spark_jobs.parsing.files import parse_files, quarantine_of
from spark_jobs.parsing.schema import PARSED_SCHEMA, in_interval
from spark_jobs.parsing.sources import list_files
from spark_jobs.stage.runner import run_main, write_run_record


def body(spark: Any, ctx: StageContext) -> None:
    from spark_jobs.features.enrichment import enrich

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
    files_out = [FileCounts(**a.as_dict()) for a in source.accounts]
    if src.out_of_window == "include":
        # Lines outside the interval were parsed into this run: count them so.
        files_out = [f.included() for f in files_out]
    record = IngestRecord.of_files(
        files_out,
        format=source.format_name,
        format_detection=source.detection.as_dict() if source.detection else None,
        out_of_window_policy=src.out_of_window,
        globs=globs,
    )
    write_run_record(spark, ctx, record)


def main(argv: list[str] | None = None) -> int:
    return run_main("ingest", body, argv)


if __name__ == "__main__":
    sys.exit(main())
