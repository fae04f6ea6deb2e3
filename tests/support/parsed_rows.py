"""Builders of parsed log rows (the ingest stage's output schema) for tests of later stages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from spark_jobs.parsing.schema import PARSED_SCHEMA


def parsed_row(
    ts: datetime,
    client: str | None = "83.149.9.216",
    *,
    method: str | None = "GET",
    path: str | None = "/",
    query: str | None = None,
    status: int = 200,
    nbytes: int | None = 10,
    referrer: str | None = None,
    user_agent: str | None = "Mozilla/5.0",
    source_file: str = "access.log",
    **columns: Any,
) -> tuple:
    """One row of PARSED_SCHEMA, built by column name so a new column cannot shift the others.

    ``request`` is rebuilt from method/path/query ("-" without a method); ``columns`` sets any
    other column of the schema by name (``vhost=``, ``session_id=``), the rest are null.
    """
    unknown = set(columns) - set(PARSED_SCHEMA.fieldNames())
    if unknown:
        raise TypeError(f"not columns of PARSED_SCHEMA: {sorted(unknown)}")
    target = f"{path}{'?' + query if query else ''}"
    values = {
        "ts": ts,
        "ts_offset": "+0000",
        "client": client,
        "method": method,
        "path": path,
        "query": query,
        "protocol": "HTTP/1.1" if method else None,
        "request": f"{method} {target} HTTP/1.1" if method else "-",
        "status": status,
        "bytes": nbytes,
        "referrer": referrer,
        "user_agent": user_agent,
        "source_file": source_file,
        **columns,
    }
    return tuple(values.get(name) for name in PARSED_SCHEMA.fieldNames())


__all__ = ["PARSED_SCHEMA", "parsed_row"]
