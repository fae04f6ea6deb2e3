"""JSON-lines access logs: ECS documents (Filebeat, Elastic Agent), nginx ``escape=json``
formats, and the ad-hoc JSON that fluentd / fluent-bit / Vector write.

Each line is parsed once with ``from_json`` into a struct holding every key botwatch knows, both
as flat dotted keys (``"source.ip": ...``) and as nested objects (``{"source": {"ip": ...}}``),
so both ECS spellings work without a second parse. For each canonical column the first key
present wins; ``fields`` overrides that list per column when a log uses its own names.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.parsing.formats.presets import JSON_DEFAULT_FIELDS
from spark_jobs.parsing.formats.regex import CLF_TIME
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


def _schema_for(keys: set[str]) -> tuple[T.StructType, set[str], set[str]]:
    """(from_json schema, nested object names, names that are both a key and an object).

    Every key is declared flat (a literal dotted name); dotted keys are declared nested too.
    A name used both ways (``user_agent`` string vs ECS ``user_agent.original``) is declared a
    string: Spark then keeps an object's raw JSON text, read with ``get_json_object``.
    """
    plain = {k for k in keys if "." not in k}
    tree: dict = {}
    for key in sorted(k for k in keys if "." in k):
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(parts[-1], {})

    def build(sub: dict) -> T.DataType:
        if not sub:
            return T.StringType()
        return T.StructType([T.StructField(k, build(v)) for k, v in sorted(sub.items())])

    clashes = plain & set(tree)
    fields: dict[str, T.DataType] = {k: T.StringType() for k in keys}
    for top, sub in tree.items():
        fields[top] = T.StringType() if top in clashes else build(sub)
    schema = T.StructType([T.StructField(k, v) for k, v in sorted(fields.items())])
    return schema, set(tree) - clashes, clashes


def _get(doc: Column, key: str, objects: set[str], clashes: set[str]) -> Column:
    """A key's value whichever way the line spells it (flat dotted key or nested object)."""
    candidates = [doc.getField(key)]
    top, _, rest = key.partition(".")
    if rest and top in objects:
        nested = doc
        for part in key.split("."):
            nested = nested.getField(part)
        candidates.append(nested)
    elif rest and top in clashes:
        candidates.append(F.get_json_object(doc.getField(top), "$." + rest))
    elif key in clashes:  # the plain string spelling; an object here is not this key
        value = doc.getField(key)
        candidates = [F.when(~value.startswith("{"), value)]
    return F.coalesce(*candidates) if len(candidates) > 1 else candidates[0]


def _first(doc: Column, keys: tuple[str, ...], objects: set[str], clashes: set[str]) -> Column:
    """The first of ``keys`` the document has (``-`` and empty count as absent)."""
    cols = [dash_to_null(_get(doc, key, objects, clashes)) for key in keys]
    return F.coalesce(*cols) if len(cols) > 1 else cols[0]


def _time(raw_time: Column, log_timezone: str) -> tuple[Column, Column]:
    """(ts, offset) of a JSON time: numbers are epoch seconds (or ms when too large to be
    seconds); strings are ISO 8601 or the CLF time nginx writes in ``$time_local``."""
    number = raw_time.try_cast("double")
    clf_ts, clf_offset = parse_time(raw_time, CLF_TIME)
    iso_ts, iso_offset = parse_time(raw_time, "iso8601", log_timezone)
    epoch = F.timestamp_seconds(F.when(number > 1e11, number / 1000).otherwise(number))
    ts = F.when(number.isNotNull(), epoch).otherwise(F.coalesce(clf_ts, iso_ts))
    offset = F.when(number.isNotNull(), F.lit("+0000")).otherwise(
        F.when(clf_ts.isNotNull(), clf_offset).otherwise(iso_offset)
    )
    return ts, offset


def _request(first: Callable[[str], Column]) -> tuple[Column, dict[str, Column]]:
    """(target, the request columns): from the fields that hold them, else from the request
    line (``METHOD TARGET [PROTOCOL]``), else from ECS ``url.path`` and ``url.query``."""
    request = first("request")
    req = F.regexp_extract(request, REQUEST_PATTERN, 0) != ""
    req_parts = F.split(request, " ")
    target = F.coalesce(
        first("target"),
        F.when(req, F.get(req_parts, 1)),
        F.nullif(F.concat_ws("?", first("url_path"), first("url_query")), F.lit("")),
    )
    target_parts = F.split(target, r"\?", 2)
    method = F.coalesce(first("method"), F.when(req, F.get(req_parts, 0)))
    version = first("http_version")
    protocol = F.coalesce(
        first("protocol"),
        F.when(req, F.get(req_parts, 2)),
        F.when(version.isNotNull(), F.concat(F.lit("HTTP/"), version)),
    )
    return target, {
        "method": F.upper(method),
        "path": F.nullif(F.get(target_parts, 0), F.lit("")),
        "query": F.nullif(F.get(target_parts, 1), F.lit("")),
        "protocol": protocol,
        "request": F.coalesce(request, F.concat_ws(" ", method, target, protocol)),
    }


def parse_json_lines(
    df: DataFrame,
    fields: dict[str, list[str]] | None = None,
    log_timezone: str = "UTC",
) -> DataFrame:
    """Add the parsed columns and ``reason`` to ``value`` lines holding one JSON object each."""
    mapping = {**JSON_DEFAULT_FIELDS, **{k: tuple(v) for k, v in (fields or {}).items()}}
    keys = {k for ks in mapping.values() for k in ks}
    schema, objects, clashes = _schema_for(keys)
    line = without_trailing_cr(F.col("value"))
    doc = F.col("_doc")
    # Two steps: the document, then each canonical field's raw value, as columns of their own.
    # Written as one expression tree, every use of a field repeats its coalesce over all the
    # candidate keys, and compiling that tree cost seconds per query.
    raw = df.withColumn("_doc", F.from_json(line, schema, {"mode": "PERMISSIVE"}))
    raw = raw.withColumns(
        {f"_j_{name}": _first(doc, keys_, objects, clashes) for name, keys_ in mapping.items()}
    )

    def first(name: str) -> Column:
        return F.col(f"_j_{name}")

    ts, offset = _time(first("time"), log_timezone)
    target, request = _request(first)
    status, nbytes = first("status"), first("bytes")
    status_ok = status.rlike(STATUS_PATTERN)
    bytes_ok = nbytes.isNull() | nbytes.rlike(BYTES_PATTERN)
    duration_ms = first("duration_ns").try_cast("double") / 1e6
    columns = {
        "ts": ts,
        "ts_offset": offset,
        "client": first("client"),
        "ident": F.lit(None),
        "auth_user": first("auth_user"),
        **request,
        "status": F.when(status_ok, status.try_cast("int")),
        "bytes": F.when(bytes_ok, nbytes.try_cast("long")),
        "referrer": first("referrer"),
        "user_agent": first("user_agent"),
        "vhost": first("vhost"),
        "server_port": F.lit(None),
        "session_id": first("session_id"),
        "x_forwarded_for": first("x_forwarded_for"),
        "request_time_ms": F.coalesce(
            first("request_time_s").try_cast("double") * 1e3, duration_ms
        ),
        "extra": F.lit(None),
    }
    is_object = F.ltrim(line).startswith("{") & F.col("_doc").isNotNull()
    matched = is_object & target.isNotNull()
    empty = F.trim(line) == ""
    reason = quarantine_reason(empty, matched, ts, status_ok, bytes_ok, not_json=~is_object)
    out = with_parsed_columns(raw, columns, matched, reason)
    return out.drop("_doc", *[f"_j_{name}" for name in mapping])
