"""Java's regex against RE2 for the parse step of ingest, side by side on one Connect server.

Issue 13 asks to measure the line regex in Spark's JVM (``regexp_replace`` + ``split``, what
``spark_jobs/parsing/lines.py`` runs) against RE2 (pyarrow's ``extract_regex`` inside
``mapInArrow``, which ships each batch to a Python worker) and keep the faster. Both read the
same text file, run the same preset's pattern once per line, and count the lines that match
and the characters of two groups, so neither plan can skip the regex; results must agree.

    .venv/bin/python bench/regex_engines.py --data /tmp/botwatch-bench/aircare_all.log --runs 2

It starts a Connect server of its own (``local[*]``, 1 GB driver) unless ``--remote`` names one,
and prints a markdown table with the load average while it ran.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spark_jobs.parsing.formats.presets import preset  # noqa: E402
from spark_jobs.parsing.lines import _group_names, _split_groups  # noqa: E402

#: Possessive quantifiers (Java) that RE2 lacks; RE2 never backtracks, so plain ones match the same.
_POSSESSIVE = re.compile(r"(?<!\\)([*+?}])\+")


def re2_pattern(java_pattern: str) -> str:
    """The Java pattern in RE2's syntax: ``(?<name>`` groups as ``(?P<name>``, no possessives."""
    return _POSSESSIVE.sub(r"\1", java_pattern).replace("(?<", "(?P<")


def java_counts(spark, text, pattern: str):
    from pyspark.sql import functions as F

    df, ok, groups = _split_groups(text, F.col("value"), pattern, "g_")
    return df.agg(
        F.sum(ok.cast("long")).alias("matched"),
        F.sum(F.length(groups["request"])).alias("request_chars"),
        F.sum(F.length(groups["useragent"])).alias("ua_chars"),
    ).first()


def re2_counts(spark, text, pattern: str):
    from pyspark.sql import functions as F

    names = _group_names(pattern)
    compiled = re2_pattern("(?s)" + pattern)
    schema = "ok boolean, " + ", ".join(f"g_{name} string" for name in names)

    def extract(batches):
        import pyarrow as pa
        import pyarrow.compute as pc

        for batch in batches:
            lines = batch.column(0)
            ok = pc.match_substring_regex(lines, compiled)
            groups = pc.extract_regex(lines, compiled)  # null where a line does not match
            arrays = [ok] + [pc.struct_field(groups, name) for name in names]
            yield pa.RecordBatch.from_arrays(arrays, ["ok"] + [f"g_{n}" for n in names])

    parsed = text.mapInArrow(extract, schema)
    return parsed.agg(
        F.sum(F.col("ok").cast("long")).alias("matched"),
        F.sum(F.length("g_request")).alias("request_chars"),
        F.sum(F.length("g_useragent")).alias("ua_chars"),
    ).first()


ENGINES = {"java": java_counts, "re2": re2_counts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/tmp/botwatch-bench/aircare_all.log")
    parser.add_argument("--format", default="combined")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--engines", default="java,re2")
    parser.add_argument("--remote", help="sc:// URL of a running server (default: start one)")
    parser.add_argument("--server-memory", default="1g")
    args = parser.parse_args(argv)
    if args.remote:
        return _bench(args, args.remote)
    from botwatch_airflow.services import processes, spark_connect
    from botwatch_airflow.services.spark_cluster import default_spark_home

    settings = spark_connect.ConnectSettings(
        port=processes.free_port(), master="local[*]", ui_port=0,
        run_dir=Path(tempfile.mkdtemp(prefix="bw-regex-")), spark_home=default_spark_home(),
        driver_memory=args.server_memory,
    )  # fmt: skip
    with spark_connect.running(settings) as url:
        return _bench(args, url)


def _bench(args, url: str) -> int:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(url).getOrCreate()
    text = spark.read.text(args.data)
    pattern = preset(args.format).pattern
    rows, results = [], {}
    for run in range(args.runs):
        for engine in args.engines.split(","):
            began, load = time.monotonic(), os.getloadavg()[0]
            counts = ENGINES[engine](spark, text, pattern)
            seconds = time.monotonic() - began
            results.setdefault(engine, counts.asDict())
            rows.append(
                f"| {run + 1} | {engine} | {seconds:.1f} s | {counts['matched']:,} | {load:.1f} |"
            )
            print(rows[-1], flush=True)
    print(
        "\n| run | engine | query time | lines matched | load (1 min) |\n|---|---|---:|---:|---:|"
    )
    print("\n".join(rows))
    spark.stop()  # before the server stops: a live client retries for minutes otherwise
    agree = len({tuple(sorted(r.items())) for r in results.values()}) == 1
    print(f"\nsame counts from every engine: {agree} {results}")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
