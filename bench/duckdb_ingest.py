"""DuckDB contender of bench/parse_bench.py, run by it as a separate whole process.

    python bench/duckdb_ingest.py LOG_OR_GLOB OUT.parquet [--threads N]

Runs ``duckdb_ingest.sql`` (read the lines, one ``regexp_extract`` of the combined fields per
line, timestamp cast, per-client aggregate to Parquet) and prints one JSON line with the counts:
``{"read": ..., "parsed": ..., "rejected": ..., "clients": ..., "duckdb": "<version>"}``.

Lines are read with ``read_csv`` (one VARCHAR column, no quote, no escape, a delimiter byte that
access logs never hold): it reads in parallel and keeps stray quotes. It does end a line at a
bare ``\\r`` too (DuckDB has no option against that), so on a file with ``\\r`` bytes ``read``
is larger than the file's ``\\n`` count; ``parse_bench.py`` reports the file's own count beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb

SQL_FILE = Path(__file__).with_name("duckdb_ingest.sql")

CSV_OPTIONS = (
    "header = false, auto_detect = false, delim = '\\x01', quote = '', escape = '', "
    "new_line = '\\n', strict_mode = false, max_line_size = 100000000"
)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", help="log file or glob (plain or .gz)")
    parser.add_argument("out", help="Parquet file for the per-client aggregate")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all)")
    args = parser.parse_args(argv)

    sql = (
        SQL_FILE.read_text(encoding="utf-8")
        .replace("@LOG@", _literal(args.log))
        .replace("@OUT@", _literal(args.out))
        .replace("@CSV_OPTIONS@", CSV_OPTIONS)
    )
    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    statements = [s for s in sql.split(";\n") if s.strip(" \n;") and not _only_comments(s)]
    result = None
    for statement in statements:
        result = con.execute(statement)
    parsed, rejected, clients = result.fetchone()
    counts = {
        "read": int(parsed) + int(rejected),
        "parsed": int(parsed),
        "rejected": int(rejected),
        "clients": int(clients),
        "duckdb": duckdb.__version__,
    }
    print(json.dumps(counts))
    return 0


def _only_comments(statement: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in statement.splitlines())


if __name__ == "__main__":
    sys.exit(main())
