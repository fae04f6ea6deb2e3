"""Count the crawler claims of each dev log site and their verdicts (docs/crawler-verification.md).

    .venv/bin/python bench/crawler_claims.py [--logs ../shared/data/logs] [--examples 5]

Reads every Apache/nginx combined line of every file under each site's folder (``.gz`` too),
takes the client and the user agent, and judges each distinct (client, user agent) pair that
claims an operator with ``features.crawler_check.verdict``, the function the feature stage uses.
Prints one markdown row per site (pairs and requests: genuine / spoofed / not judged) and the
busiest spoofed pairs.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spark_jobs.features.crawler_check import claim_pattern, verdict  # noqa: E402

LINE = re.compile(r'^(\S+) \S+ \S+ \[[^\]]*\] "[^"]*" \S+ \S+(?: "[^"]*" "([^"]*)")?')
SITES = (
    "aircareonline",
    "almhuette_raith",
    "elastic_examples",
    "honeynet_2004",
    "iliou_webbot_phase1",
)


def site_claims(folder: Path) -> dict[tuple[str, str], list]:
    claim = re.compile(claim_pattern().removeprefix("(?i)"), re.IGNORECASE)
    seen: dict[tuple[str, str], list] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rt", errors="replace") as lines:
                for line in lines:
                    if not claim.search(line) or not (m := LINE.match(line)) or not m.group(2):
                        continue
                    key = (m.group(1), m.group(2))
                    seen.setdefault(key, [verdict(*key), 0])[1] += 1
        except (OSError, EOFError):
            continue
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--logs", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/logs"
    )
    parser.add_argument("--examples", type=int, default=5)
    args = parser.parse_args(argv)
    print("| site | genuine pairs (requests) | spoofed | not judged |\n|---|---|---|---|")
    examples = []
    for site in SITES:
        pairs, requests = collections.Counter(), collections.Counter()
        for (client, agent), (v, n) in site_claims(args.logs / site).items():
            kind = (
                {False: "genuine", True: "spoofed", None: "not judged"}[v.spoofed]
                if v.operator
                else None
            )
            if kind:
                pairs[kind] += 1
                requests[kind] += n
                if v.spoofed:
                    examples.append((n, site, client, agent[:80], v.reason))
        cells = [f"{pairs[k]:,} ({requests[k]:,})" for k in ("genuine", "spoofed", "not judged")]
        print(f"| {site} | " + " | ".join(cells) + " |")
    print("\nbusiest spoofed pairs:")
    for n, site, client, agent, why in sorted(examples, reverse=True)[: args.examples]:
        print(f"- {site}: {n} requests from {client} as {agent!r}: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
