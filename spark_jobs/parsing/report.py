"""``botwatch parse FILE...``: how well a format reads some log files, before writing a config.

It runs the ingest stage's own reading and parsing code (``ingest.parse_files``) on a local
Spark session, with no data interval, and prints per file the lines read / parsed / quarantined
and the top quarantine reasons with an example line each, so a user can try presets or a
LogFormat string against their logs in a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from pyspark.sql import functions as F

from spark_jobs.errors import LogFormatError, StageFailed
from spark_jobs.parsing.files import ParsedSource, parse_files, quarantine_of
from spark_jobs.parsing.formats.presets import FORMAT_NAMES, compile_format
from spark_jobs.parsing.sources import list_files

#: How many reasons, and example lines per reason, the report shows.
TOP_REASONS = 5
EXAMPLE_CHARS = 160


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="botwatch parse", description=__doc__.splitlines()[0].strip("`")
    )
    parser.add_argument("files", nargs="+", help="log files or globs (plain, .gz, .bz2)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--format", default="auto", choices=FORMAT_NAMES, help="preset (auto)")
    how.add_argument("--log-format", help="Apache LogFormat or nginx log_format string")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--log-timezone", default="UTC", help="zone of times without offset")
    return parser


def local_spark():
    """A local session for by-hand use (the CLI, bench/parse_coverage.py), quiet on the console."""
    from spark_jobs.session import spark_session

    master = os.environ.get("BOTWATCH_PARSE_MASTER")  # older spelling of BOTWATCH_LOCAL_MASTER
    return spark_session("botwatch-parse", "local", {"spark.master": master} if master else None)


def report(spark: Any, files: list[str], spec: str, log_timezone: str = "UTC") -> dict[str, Any]:
    """Counts per file and overall, with examples of the most common quarantine reasons."""
    paths = sorted({p for f in files for p in list_files(spark, _qualify(f))})
    source = parse_files(spark, paths, spec, log_timezone=log_timezone)
    try:
        examples = _examples(spark, source)
    finally:
        source.unpersist()
    per_file = []
    for acc in source.accounts:
        entry = acc.as_dict()
        entry.pop("out_of_window")
        entry["parsed_share"] = round(acc.parsed / acc.read, 6) if acc.read else None
        entry["top_reasons"] = [
            {"reason": r, "lines": n, "example": examples.get((acc.source_file, r))}
            for r, n in list(entry.pop("reasons").items())[:TOP_REASONS]
        ]
        per_file.append(entry)
    read = sum(a.read for a in source.accounts)
    parsed = sum(a.parsed for a in source.accounts)
    return {
        "format": source.format_name,
        "format_detection": source.detection.as_dict() if source.detection else None,
        "read": read,
        "parsed": parsed,
        "quarantined": sum(a.quarantined for a in source.accounts),
        "parsed_share": round(parsed / read, 6) if read else None,
        "files": per_file,
    }


def _examples(spark: Any, source: ParsedSource) -> dict[tuple[str, str], dict]:
    """The first quarantined line of each (file, reason), with its line number."""
    bad = quarantine_of(spark, source)
    first = bad.groupBy("source_file", "reason").agg(
        F.min_by(F.struct("line_no", "line"), "line_no").alias("first")
    )
    return {
        (r.source_file, r.reason): {
            "line_no": r.first.line_no,
            "line": (r.first.line or "")[:EXAMPLE_CHARS],
        }
        for r in first.collect()
    }


def _qualify(path: str) -> str:
    """Plain local paths become absolute, so Hadoop does not read them relative to a default FS."""
    return path if "://" in path else os.path.abspath(path)


def format_text(result: dict[str, Any]) -> str:
    lines = [f"format: {result['format']}"]
    det = result["format_detection"]
    if det:
        shares = ", ".join(f"{n} {s:.1%}" for n, s in det["shares"].items())
        lines.append(f"  auto-detected from the first {det['sample_lines']} lines: {shares}")
    for f in result["files"]:
        share = f"{f['parsed_share']:.3%}" if f["parsed_share"] is not None else "-"
        flag = "  TRUNCATED" if f["truncated"] else ""
        lines.append(
            f"{f['source_file']}: read {f['read']:,}  parsed {f['parsed']:,} ({share})  "
            f"quarantined {f['quarantined']:,}{flag}"
        )
        for r in f["top_reasons"]:
            ex = r["example"] or {}
            lines.append(f"    {r['reason']}: {r['lines']:,}  e.g. line {ex.get('line_no')}: ")
            lines.append(f"      {ex.get('line', '')!r}")
    share = f"{result['parsed_share']:.3%}" if result["parsed_share"] is not None else "-"
    lines.append(
        f"total: read {result['read']:,}  parsed {result['parsed']:,} ({share})  "
        f"quarantined {result['quarantined']:,}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    spec = args.log_format or args.format
    if args.log_format:
        try:
            compile_format(args.log_format)
        except LogFormatError as exc:
            parser.error(f"--log-format: {exc}")
    try:
        result = report(local_spark(), args.files, spec, args.log_timezone)
    except StageFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else format_text(result))
    return 0
