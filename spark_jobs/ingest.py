"""Ingest stage: raw log files of a data interval -> parsed and quarantine Parquet partitions.

Run by ``spark-submit spark_jobs/ingest.py --config X --start ... --end ...``. Each line read
ends up in exactly one of three places, so the run record always has
``read == parsed + quarantined + out_of_window``:

* parsed: lines that parsed and whose time is inside the interval;
* quarantined: lines that did not parse, whatever their time (they have no trustworthy time);
* out_of_window: lines that parsed but belong to another interval (files overlap days).
"""

from __future__ import annotations

import sys
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.job_common import StageContext, run_main, write_run_record
from spark_jobs.log_parsing import in_interval, parse_lines, read_lines, split_parsed

COUNTS = ("read", "parsed", "quarantined", "out_of_window")


def count_by_file(lines: DataFrame) -> list[dict[str, Any]]:
    """Per-file counts in one aggregation; ``lines`` has ``reason`` and ``in_window``."""
    ok = F.col("reason").isNull()
    rows = (
        lines.groupBy("source_file")
        .agg(
            F.count(F.lit(1)).alias("read"),
            F.count_if(ok & F.col("in_window")).alias("parsed"),
            F.count_if(~ok).alias("quarantined"),
            F.count_if(ok & ~F.col("in_window")).alias("out_of_window"),
        )
        .orderBy("source_file")
        .collect()
    )
    return [row.asDict() for row in rows]


def body(spark: Any, ctx: StageContext) -> None:
    glob = ctx.usecase.source_glob(ctx.start, ctx.end)
    lines = parse_lines(read_lines(spark, glob), ctx.usecase.source.format)
    # A parsed line without a time cannot exist (no time is a quarantine reason), so in_window
    # is only null on quarantined lines; coalesce keeps the counts' boolean logic two-valued.
    lines = lines.withColumn(
        "in_window", F.coalesce(in_interval(ctx.start, ctx.end), F.lit(False))
    ).cache()
    try:
        files = count_by_file(lines)
        parsed, quarantined = split_parsed(
            lines.where(F.col("in_window") | F.col("reason").isNotNull())
        )
        # Always write both, even empty: downstream stages read the folders unconditionally.
        parsed.write.mode("overwrite").parquet(ctx.path("parsed"))
        quarantined.write.mode("overwrite").parquet(ctx.path("quarantine"))
    finally:
        lines.unpersist()
    totals = {name: sum(f[name] for f in files) for name in COUNTS}
    write_run_record(spark, ctx, **totals, files=files, glob=glob)


def main(argv: list[str] | None = None) -> int:
    return run_main("ingest", body, argv)


if __name__ == "__main__":
    sys.exit(main())
