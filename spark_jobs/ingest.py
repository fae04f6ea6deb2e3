"""Ingest stage: raw log files of a data interval -> the interval's parsed and quarantine
Parquet partitions, and a run record that accounts for every line.

Run by ``spark-submit spark_jobs/ingest.py --config X --start ... --end ...``. The files are
parsed once into the source store (``lake.source_store``: a file already there, unchanged, is
not read again, whichever use case or run took it), then the interval's slice is selected,
enriched and written. Each line read is counted in exactly one place, so per file ``read ==
parsed + quarantined + out_of_window``:

* parsed: lines that parsed and whose time is inside the interval, enriched (user agent,
  crawler flag, path class, client prefix);
* quarantined: lines that did not parse, whatever their time (they have no trustworthy time),
  with file, line number and reason; the unreadable rest of a truncated ``.gz`` counts as one;
* out_of_window: lines that parsed but whose time is outside the interval. They stay in the
  store, where the run of their own interval selects them (``keep``, the default, and ``drop``
  alike: nothing is lost); ``include`` scores them in this run (files cut by arrival time).

An interval without data is a success, not a failure: when no file of the interval exists but
the source has files of other intervals, or every line read is outside the interval, the stage
writes the empty partitions and a record with ``outcome: no_data`` and the reason; the later
stages read it and finish at once (``stage.runner``). A source that matches no file of any
interval is a misconfiguration and fails. Lines that do not parse are data: the gate judges them.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from spark_jobs.errors import StageFailed
from spark_jobs.lake import storage
from spark_jobs.lake.records import FileCounts, IngestRecord
from spark_jobs.lake.runs import StageContext
from spark_jobs.lake.source_store import FileEntry, SourceStore
from spark_jobs.parsing import selecting
from spark_jobs.parsing.schema import PARSED_SCHEMA, QUARANTINE_SCHEMA
from spark_jobs.parsing.sources import list_file_stats
from spark_jobs.stage.runner import run_main, write_run_record

log = logging.getLogger("botwatch")


def find_files(spark: Any, ctx: StageContext, globs: list[str]) -> list[storage.FileStat]:
    """The interval's files; [] when none matches but the source has files of other intervals
    (the logs ended, or have not arrived: no data). A source that matches no file at all is a
    misconfiguration and fails the stage."""
    found = {s.path: s for glob in globs for s in list_file_stats(spark, glob, missing_ok=True)}
    if found:
        return [found[path] for path in sorted(found)]
    everywhere = ctx.usecase.source_glob_all()
    if not list_file_stats(spark, everywhere, missing_ok=True):
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


def write_partitions(ctx: StageContext, parsed: Any, quarantined: Any) -> None:
    """Both datasets of the interval, even empty: downstream stages read the folders. User
    agents seen by earlier runs are remembered in the lake (``sources/user_agents``)."""
    from spark_jobs.features.enrichment import enrich
    from spark_jobs.features.python_described import describer_version

    agents = f"{ctx.lake_root.rstrip('/')}/sources/user_agents/v={describer_version()}"
    enrich(parsed, agents=agents).write.mode("overwrite").parquet(ctx.path("parsed"))
    quarantined.write.mode("overwrite").parquet(ctx.path("quarantine"))


def store_of(ctx: StageContext) -> SourceStore:
    src = ctx.usecase.source
    return SourceStore.of(ctx.lake_root, src.format_spec, src.log_timezone, src.json_fields)


def select_and_write(
    spark: Any, ctx: StageContext, entries: list[FileEntry]
) -> tuple[list[FileCounts], dict[str, Any]]:
    """Write the interval's slice of the store; the per-file counts and the format."""
    store = store_of(ctx)
    include = ctx.usecase.source.out_of_window == "include"
    window = None if include else (ctx.start, ctx.end)
    parsed = selecting.parsed_lines(spark, store, entries, window)
    began = time.monotonic()
    write_partitions(ctx, parsed, selecting.quarantined_lines(spark, store, entries))
    log.info("selected, enriched and wrote the interval in %.1f s", time.monotonic() - began)
    in_window = selecting.lines_per_file(spark, ctx.path("parsed"), (ctx.start, ctx.end))
    files_out = selecting.file_counts(entries, in_window)
    if include:
        # Every parsed line of the files is in this run: count them so.
        files_out = [f.included() for f in files_out]
    formats = sorted({e.format for e in entries})
    detection = next((e.format_detection for e in entries if e.format_detection), None)
    return files_out, {"format": ", ".join(formats), "format_detection": detection}


def body(spark: Any, ctx: StageContext) -> None:
    globs = ctx.usecase.source_globs(ctx.start, ctx.end)
    files = find_files(spark, ctx, globs)
    if files:
        entries = selecting.ensure_taken(spark, store_of(ctx), files, ctx.usecase.source)
        files_out, fmt = select_and_write(spark, ctx, entries)
    else:
        empty = spark.createDataFrame([], PARSED_SCHEMA)
        write_partitions(ctx, empty, spark.createDataFrame([], QUARANTINE_SCHEMA))
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
