"""Builders of parsed log rows (the ingest stage's output schema) for tests of later stages."""

from __future__ import annotations

from datetime import datetime

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
) -> tuple:
    """One row of PARSED_SCHEMA; ``request`` is rebuilt from method/path/query ("-" without)."""
    target = f"{path}{'?' + query if query else ''}"
    request = f"{method} {target} HTTP/1.1" if method else "-"
    protocol = "HTTP/1.1" if method else None
    return (
        ts, "+0000", client, None, None, method, path, query, protocol, request,
        status, nbytes, referrer, user_agent,
        None, None, None, None, None, None,  # vhost, port, session, XFF, time taken, extra
        source_file,
    )  # fmt: skip


__all__ = ["PARSED_SCHEMA", "parsed_row"]
