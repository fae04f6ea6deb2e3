"""Parse coverage on every real log file of ../shared/data/logs with its right preset or format
string, through the same code as the ingest stage (``botwatch parse``). Run by hand:

    .venv/bin/python bench/parse_coverage.py [--data ../shared/data/logs] [--json out.json]

Prints a markdown table (one row per data set, parsed share, quarantine reasons) for
docs/log-formats.md. The target is >= 99.9% parsed per data set, the rest quarantined with a reason.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

#: data set folder -> (files glob, format spec as a user would write it in the config)
DATASETS = {
    "aircareonline": ("aircareonline/*.log.gz", "combined"),
    "elastic_examples": ("elastic_examples/*.gz", "combined"),
    "almhuette_raith": ("almhuette_raith/*.log.gz", "combined_extra"),
    "honeynet_2004": ("honeynet_2004/*.gz", "combined"),
    "iliou_webbot_phase1": (
        "iliou_webbot_phase1/*.log.gz",
        '%l %u %t "%r" %>s %b "%{Referer}i" %{PHPSESSID}C "%{User-Agent}i"',
    ),
}
TARGET = 0.999


def main() -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(here.parent.parent / "shared" / "data" / "logs"))
    parser.add_argument("--json", help="also write the full reports here")
    args = parser.parse_args()

    from spark_jobs.parsing.report import local_spark, report

    spark = local_spark()
    results, rows = {}, []
    for name, (glob, spec) in DATASETS.items():
        started = time.monotonic()
        result = report(spark, [str(Path(args.data) / glob)], spec)
        seconds = time.monotonic() - started
        results[name] = result
        reasons: dict[str, int] = {}
        for f in result["files"]:
            for r in f["top_reasons"]:
                reasons[r["reason"]] = reasons.get(r["reason"], 0) + r["lines"]
        listed = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
        share = result["parsed_share"]
        rows.append(
            f"| {name} | `{spec}` | {len(result['files'])} | {result['read']:,} | "
            f"{result['parsed']:,} | {share:.4%} | {'yes' if share >= TARGET else 'NO'} | "
            f"{listed or '-'} | {seconds:.0f} |"
        )
    print(
        "| data set | format | files | read | parsed | parsed share | >= 99.9% | quarantined by reason | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
