"""Baseline of bench/parse_bench.py: a spark-submit that only starts the session, like a stage.

Submitted with exactly the ingest run's command line, conf and environment (only the
application differs), it parses the same arguments and builds the SparkSession with the same
``get_spark`` as every stage, then returns without reading anything. Its whole-process time is
what any stage pays before and after its own work (JVM, py4j gateway, Python driver, session,
JVM shutdown). It prints one line ``BENCH_STARTUP {"python_start": epoch, "session_ready":
epoch}`` so the bench can also tell start-up from shut-down.
"""

from __future__ import annotations

import time

PYTHON_START = time.time()

import json  # noqa: E402 - the clock above must start before the imports
import sys  # noqa: E402

from spark_jobs.stage.runner import get_spark, parse_context, setup_logging  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    ctx, _ = parse_context("ingest", argv)
    get_spark(ctx)
    ready = time.time()
    # Like run_main: no explicit stop, the stage's process exits and the JVM shuts down.
    print("BENCH_STARTUP " + json.dumps({"python_start": PYTHON_START, "session_ready": ready}))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
