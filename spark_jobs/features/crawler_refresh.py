"""Refresh the crawler ranges shipped with botwatch from their operators' published files.

    python -m spark_jobs.features.crawler_refresh                 # download every ranges_url
    python -m spark_jobs.features.crawler_refresh --from-dir DIR  # files fetched elsewhere

Run by hand (or from a deploy job), never by a stage: stages read only the shipped copies, so a
run never depends on the network. Each file must parse (``crawler_check.read_ranges``) before
it replaces the old copy (atomically); the operator table then records where it came from.
With ``--from-dir`` a file is taken from ``DIR/<basename of ranges_url>`` (``googlebot.json``,
``bingbot.json``, ...), for machines without internet access.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import date
from pathlib import Path

from spark_jobs.features import crawler_check


def _session():
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = requests.Session()
    retry = Retry(total=4, backoff_factor=1.0, status_forcelist=(429, 500, 502, 503, 504))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def fetch(url: str, from_dir: Path | None) -> tuple[str, str]:
    """The text of the published file and where it came from."""
    name = url.rsplit("/", 1)[-1]
    if from_dir is not None:
        path = from_dir / name
        return path.read_text(), f"{path} (given with --from-dir on {date.today()})"
    response = _session().get(url, timeout=30)
    response.raise_for_status()
    return response.text, f"{url} on {date.today()}"


def refresh(operators_file: Path, ranges_dir: Path, from_dir: Path | None) -> list[str]:
    """Replace each operator's ranges file; returns one line per operator for the person."""
    doc = json.loads(operators_file.read_text())
    lines = []
    for entry in doc["operators"]:
        url = entry.get("ranges_url")
        if not url:
            lines.append(f"{entry['operator']}: no published ranges (domains only)")
            continue
        name = url.rsplit("/", 1)[-1]
        try:
            text, source = fetch(url, from_dir)
            ranges, created = crawler_check.parse_ranges(text, name)
        except (OSError, ValueError) as exc:  # requests' errors are OSErrors
            lines.append(f"{entry['operator']}: kept the old copy: {exc}")
            continue
        _atomic_write(ranges_dir / name, text)
        entry.update(ranges_file=name, fetched_via=source)
        lines.append(f"{entry['operator']}: {ranges.count} networks, created {created}")
    _atomic_write(operators_file, json.dumps(doc, indent=2) + "\n")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crawler_refresh", description=__doc__.splitlines()[0])
    parser.add_argument("--from-dir", type=Path, help="take the published files from this folder")
    parser.add_argument("--operators", type=Path, default=crawler_check.OPERATORS_FILE)
    parser.add_argument("--ranges-dir", type=Path, default=crawler_check.RANGES_DIR)
    args = parser.parse_args(argv)
    lines = refresh(args.operators, args.ranges_dir, args.from_dir)
    print("\n".join(lines))
    return 1 if any("kept the old copy" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
