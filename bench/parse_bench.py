"""Ingest stage vs GoAccess vs DuckDB on all aircare months, side by side, as whole processes.

Run by hand (never in tests), from the repository root::

    .venv/bin/python bench/parse_bench.py --runs 3 --update-readme   # ~35 min today
    .venv/bin/python bench/parse_bench.py --tools botwatch,duckdb --runs 1
    .venv/bin/python bench/parse_bench.py --tools botwatch --runs 1 --profile   # Spark jobs
    .venv/bin/python bench/parse_bench.py --render /tmp/botwatch-bench/results.json

What runs (each a separate process tree, started the same way every round):

* ``botwatch``: ``spark_jobs/ingest.py`` submitted exactly as the Airflow DAG submits it
  (the ``spark_jobs.stage.submit.StageSubmit`` the DAG factory builds its operators from, as
  ``spark-submit --master local[*]`` with the use case's merged ``spark`` conf, ``--name``, the
  job's env) with ``bench/aircare_bench.yaml`` over
  one interval covering every month; the run record ``ingest.json`` must count every line read.
* ``spark-startup``: the same spark-submit of ``bench/spark_startup.py``, which only builds the
  session: the fixed cost of any stage, so the README can split JVM/Spark start from the job.
* ``botwatch-head``: the ingest submit on the first ``--head-lines`` lines: the job's own fixed
  cost (planning, Python workers, the writes) beside its per-line cost.
* ``goaccess``: ``goaccess FILE --log-format=COMBINED -o out.json`` (Debian package ``goaccess``);
  its own valid/failed counts come from ``out.json``.
* ``duckdb``: ``bench/duckdb_ingest.py`` (one ``regexp_extract`` of the combined fields per
  line, timestamp cast, per-client aggregate to Parquet).

The input is every ``--data`` file decompressed and concatenated once into ``WORKDIR`` (cached
across runs; its line count is checked). ``--gz`` makes the tools read the .gz files instead
(GoAccess 1.7 of Debian has no zlib, so it reads ``zcat ... |`` from a pipe).

Rounds alternate the tools (A B C D A B C D ...) because this machine is small and shared: only
ratios measured side by side mean anything. Each run's peak memory is the largest sum of RSS over
the whole process tree (spark-submit's JVM and its Python workers), sampled every
``--sample-ms``. The result is printed as a Markdown section (also written to
``WORKDIR/results.md`` and, with ``--update-readme``, into ``bench/README.md`` between its
markers) and as JSON (``WORKDIR/results.json``).
"""

from __future__ import annotations

import sys

from ingest_bench.cli import parse_args, render_only, run_bench


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, description=__doc__.splitlines()[0])
    if args.render:
        return render_only(args)
    return run_bench(args, argv)


if __name__ == "__main__":
    sys.exit(main())
