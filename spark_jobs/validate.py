"""Validate stage: the gate between ingest and everything that learns from the parsed logs.

A model fitted on misparsed rows, or alerts raised on them, are worse than a late run, so any
failed rule stops the DAG run here (exit 1; the DAG gives this task no retries because a rerun
on the same data fails the same way). The full GE results are kept in the lake for the person
who has to look at why.

    spark-submit spark_jobs/validate.py --config usecase_configs/x.yaml --start ... --end ...
"""

from __future__ import annotations

import sys
from typing import Any

from spark_jobs.errors import StageFailed
from spark_jobs.lake import storage
from spark_jobs.lake.records import (
    LINE_COUNTS,
    IngestRecord,
    RecordError,
    SuiteOutcome,
    ValidateRecord,
)
from spark_jobs.lake.runs import StageContext
from spark_jobs.parsing.quality import check_counts, describe_failure, run_suite
from spark_jobs.stage.runner import run_main, write_run_record


def _inputs_missing(spark: Any, ctx: StageContext) -> list[str]:
    missing = []
    if not storage.exists(spark, ctx.path("parsed")):
        missing.append(f"no parsed partition at {ctx.path('parsed')}")
    if not storage.exists(spark, ctx.run_record_path("ingest")):
        missing.append(f"no ingest run record at {ctx.run_record_path('ingest')}")
    return missing


def body(spark: Any, ctx: StageContext) -> None:
    failures = _inputs_missing(spark, ctx)
    if failures:
        write_run_record(spark, ctx, ValidateRecord(success=False, failures=failures))
        raise StageFailed("; ".join(failures))

    raw = storage.read_json(spark, ctx.run_record_path("ingest"))
    try:
        ingest = IngestRecord.from_json(raw)
    except RecordError as exc:
        failures = [f"counts: ingest run record lacks an integer count: {exc}"]
        counts = {name: raw.get(name) for name in LINE_COUNTS}
    else:
        failures = [f"counts: {line}" for line in check_counts(ingest, ctx.usecase.quality)]
        counts = ingest.counts()

    parsed = spark.read.parquet(ctx.path("parsed"))
    suites = {}
    for name in ctx.usecase.quality.suites:
        try:
            outcome = run_suite(parsed, name, ctx.usecase.expectations_dir())
        except (OSError, ValueError) as exc:  # missing or malformed suite file
            failures.append(f"{name}: suite could not be loaded: {exc}")
            continue
        storage.write_json(spark, f"{ctx.path('validation')}/{name}.json", outcome["result"])
        suites[name] = SuiteOutcome(success=outcome["success"], failed=outcome["failed"])
        failures += [f"{name}: {describe_failure(f)}" for f in outcome["failed"]]

    record = ValidateRecord(success=not failures, failures=failures, suites=suites, counts=counts)
    write_run_record(spark, ctx, record)
    if failures:
        raise StageFailed(f"{len(failures)} quality check(s) failed: " + "; ".join(failures))


def main(argv: list[str] | None = None) -> int:
    return run_main("validate", body, argv)


if __name__ == "__main__":
    sys.exit(main())
