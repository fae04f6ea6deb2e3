"""Parse raw access-log lines into typed columns, keeping every line that does not parse.

Every function here is a pure DataFrame transform, so the ingest stage is ``sources.read_lines ->
parse_lines -> schema.split_parsed`` and tests can feed tiny inline DataFrames.

Parsing runs each line through its format's regex exactly once: ``regexp_replace`` rewrites a
matching line into its named groups joined by a separator, and ``split`` cuts that apart. With
``regexp_extract`` the whole regex would run again for every column (a dozen times per line).
"""

from __future__ import annotations

import re

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.parsing.formats.presets import JSON_FORMATS, preset
from spark_jobs.parsing.formats.regex import LineFormat
from spark_jobs.parsing.json_lines import parse_json_lines
from spark_jobs.parsing.schema import (
    BYTES_PATTERN,
    REQUEST_PATTERN,
    STATUS_PATTERN,
    dash_to_null,
    parse_time,
    quarantine_reason,
    with_parsed_columns,
    without_trailing_cr,
)

# Joins the groups of a match; Apache and nginx escape control characters, so a parsed field
# never holds it, and a line that does is caught by the field count check.
_SEP = "\x1f"


def _group_names(pattern: str) -> list[str]:
    return re.findall(r"\(\?<([A-Za-z][A-Za-z0-9]*)>", pattern)


def _split_groups(
    df: DataFrame, source: Column, pattern: str, prefix: str
) -> tuple[DataFrame, Column, dict[str, Column]]:
    """Run ``pattern`` once per row and keep ``prefix``-named columns of its groups.

    The split result is a column of its own, so Spark evaluates the regex once per row: written
    as one expression, each output column would carry its own copy of the regex (Spark does not
    share it across ``when`` branches), and parsing ran several times slower.
    """
    names = _group_names(pattern)
    replacement = "".join(_SEP + "${" + name + "}" for name in names)
    parts_name = f"{prefix}parts"
    df = df.withColumn(
        parts_name, F.split(F.regexp_replace(source, "(?s)" + pattern, replacement), _SEP, -1)
    )
    parts = F.col(parts_name)
    matched = (F.size(parts) == len(names) + 1) & (F.get(parts, 0) == "")
    groups = {f"{prefix}{name}": F.get(parts, i + 1) for i, name in enumerate(names)}
    df = df.withColumns({f"{prefix}ok": matched, **groups}).drop(parts_name)
    return df, F.col(f"{prefix}ok"), {name: F.col(f"{prefix}{name}") for name in names}


def _request_parts(df: DataFrame, g: dict[str, Column]) -> tuple[DataFrame, dict[str, Column]]:
    """method / path / query / protocol / request from ``%r``, or from its pieces when the format
    logs them separately (``%m %U%q %H``, ``$request_method $request_uri``)."""
    if "request" in g:
        df, req_ok, r = _split_groups(df, g["request"], REQUEST_PATTERN, "_r_")
        target = F.split(r["target"], r"\?", 2)
        return df, {
            "method": F.when(req_ok, r["method"]),
            "path": F.when(req_ok, F.get(target, 0)),
            "query": F.when(req_ok, F.nullif(F.get(target, 1), F.lit(""))),
            "protocol": F.when(req_ok, F.nullif(r["protocol"], F.lit(""))),
            "request": g["request"],
        }
    if "target" in g:
        target = F.split(g["target"], r"\?", 2)
        path, query = F.get(target, 0), F.get(target, 1)
    else:
        path = g["urlpath"]
        query = g.get("querystring", g.get("query", F.lit(None)))
        query = F.regexp_replace(query, r"^\?", "")
    method = dash_to_null(g.get("method", F.lit(None)))
    protocol = dash_to_null(g.get("protocol", F.lit(None)))
    query = F.nullif(query, F.lit(""))
    uri = F.concat_ws("?", path, query)
    return df, {
        "method": method,
        "path": dash_to_null(path),
        "query": query,
        "protocol": protocol,
        "request": F.concat_ws(" ", method, uri, protocol),
    }


def parse_lines(df: DataFrame, fmt: str | LineFormat, log_timezone: str = "UTC") -> DataFrame:
    """Add the parsed columns and ``reason`` (null when the line parsed) to ``value`` lines.

    ``fmt`` is a compiled format, a preset name or ``json``. Nothing is dropped here, so the
    caller can count and quarantine what did not parse.
    """
    if isinstance(fmt, str) and fmt in JSON_FORMATS:
        return parse_json_lines(df, log_timezone=log_timezone)
    line_format = preset(fmt) if isinstance(fmt, str) else fmt
    line = without_trailing_cr(F.col("value"))
    work, matched, g = _split_groups(df, line, line_format.pattern, "_g_")
    ts, offset = parse_time(g["time"], line_format.time_format, log_timezone)
    work = work.withColumns({"_ts": ts, "_offset": offset})
    ts = F.col("_ts")
    work, request = _request_parts(work, g)
    nbytes = g.get("bytes", F.lit("-"))
    status = g.get("status", F.lit(None))
    status_ok = status.rlike(STATUS_PATTERN)
    bytes_ok = nbytes.rlike(BYTES_PATTERN) | nbytes.isin("-", "")
    unit = line_format.request_time_unit
    reqtime = g["reqtime"].try_cast("double") if "reqtime" in g else F.lit(None)
    columns = {
        "ts": ts,
        "ts_offset": F.col("_offset"),
        "client": dash_to_null(g["client"]) if "client" in g else F.lit(None),
        "ident": dash_to_null(g["ident"]) if "ident" in g else F.lit(None),
        "auth_user": dash_to_null(g["authuser"]) if "authuser" in g else F.lit(None),
        **request,
        "status": F.when(status_ok, status.try_cast("int")),
        "bytes": F.when(bytes_ok, nbytes.try_cast("long")),
        "referrer": dash_to_null(g["referrer"]) if "referrer" in g else F.lit(None),
        "user_agent": dash_to_null(g["useragent"]) if "useragent" in g else F.lit(None),
        "vhost": dash_to_null(g["vhost"]) if "vhost" in g else F.lit(None),
        "server_port": g["port"].try_cast("int") if "port" in g else F.lit(None),
        "session_id": dash_to_null(g["sessionid"]) if "sessionid" in g else F.lit(None),
        "x_forwarded_for": dash_to_null(g["xff"]) if "xff" in g else F.lit(None),
        "request_time_ms": reqtime * F.lit({"us": 1e-3, "ms": 1.0, "s": 1e3}.get(unit, 1.0)),
        "extra": F.nullif(F.ltrim(g["extra"]), F.lit("")),
    }
    empty = F.col("value").rlike(r"^\s*$")
    reason = quarantine_reason(empty, matched, ts, status_ok, bytes_ok)
    out = with_parsed_columns(work, columns, matched, reason)
    temporary = [c for c in out.columns if c.startswith(("_g_", "_r_")) or c in ("_ts", "_offset")]
    return out.drop(*temporary)
