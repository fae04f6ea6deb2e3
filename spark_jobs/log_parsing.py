"""Parse raw access-log lines into typed columns, keeping every line that does not parse.

Every function here is a pure DataFrame transform (except ``read_lines``), so the ingest stage is
``read_lines -> parse_lines -> split_parsed`` and tests can feed tiny inline DataFrames.

Parsing runs each line through its format's regex exactly once: ``regexp_replace`` rewrites a
matching line into its named groups joined by a separator, and ``split`` cuts that apart. With
``regexp_extract`` the whole regex would run again for every column (a dozen times per line).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.utils import AnalysisException

from spark_jobs.job_common import StageFailed
from spark_jobs.log_formats import ISO_TIME, JSON_FORMATS, LineFormat, preset

PARSED_SCHEMA = T.StructType(
    [
        T.StructField("ts", T.TimestampType()),
        T.StructField("ts_offset", T.StringType()),
        T.StructField("client", T.StringType()),
        T.StructField("ident", T.StringType()),
        T.StructField("auth_user", T.StringType()),
        T.StructField("method", T.StringType()),
        T.StructField("path", T.StringType()),
        T.StructField("query", T.StringType()),
        T.StructField("protocol", T.StringType()),
        T.StructField("request", T.StringType()),
        T.StructField("status", T.IntegerType()),
        T.StructField("bytes", T.LongType()),
        T.StructField("referrer", T.StringType()),
        T.StructField("user_agent", T.StringType()),
        T.StructField("vhost", T.StringType()),
        T.StructField("server_port", T.IntegerType()),
        T.StructField("session_id", T.StringType()),
        T.StructField("x_forwarded_for", T.StringType()),
        T.StructField("request_time_ms", T.DoubleType()),
        T.StructField("extra", T.StringType()),
        T.StructField("source_file", T.StringType()),
    ]
)
PARSED_COLUMNS = tuple(PARSED_SCHEMA.fieldNames())

QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("source_file", T.StringType()),
        T.StructField("line_no", T.LongType()),
        T.StructField("line", T.StringType()),
        T.StructField("reason", T.StringType()),
    ]
)

#: Why a line was quarantined, in the order they are checked.
REASONS = ("empty", "no_match", "bad_timestamp", "bad_status", "bad_bytes")

#: ``METHOD TARGET [PROTOCOL]``; anything else (worm garbage, ``-``) leaves these null.
REQUEST_PATTERN = r"^(?<method>[A-Za-z_-]+) (?<target>\S+)(?: (?<protocol>\S+))?$"

# Joins the groups of a match; Apache and nginx escape control characters, so a parsed field
# never holds it, and a line that does is caught by the field count check.
_SEP = "\x1f"
_ZONE_LETTERS = re.compile(r"[XxZOV]")


def _group_names(pattern: str) -> list[str]:
    return re.findall(r"\(\?<([A-Za-z][A-Za-z0-9]*)>", pattern)


def dash_to_null(col: Column) -> Column:
    """Logs write ``-`` for "no value"; an empty or absent field means the same."""
    return F.when(~col.isin("-", ""), col)


def parse_time(raw: Column, time_format: str, log_timezone: str = "UTC") -> tuple[Column, Column]:
    """(UTC timestamp, the offset as written, e.g. ``-0400``) of a time field.

    Times written without a zone are read in ``log_timezone``; epoch times are UTC by definition.
    """
    if time_format.startswith("epoch_"):
        number = raw.try_cast("double")
        scale = {"epoch_sec": 1.0, "epoch_msec": 1e-3, "epoch_usec": 1e-6}[time_format]
        return F.timestamp_seconds(number * F.lit(scale)), F.when(number.isNotNull(), "+0000")
    if time_format == ISO_TIME:
        ts = F.try_to_timestamp(raw)
        has_zone = raw.rlike(r"(Z|[+-][0-9]{2}:?[0-9]{2})$")
    else:
        ts = F.try_to_timestamp(raw, F.lit(time_format))
        has_zone = F.lit(bool(_ZONE_LETTERS.search(time_format.replace("'", ""))))
    ts = F.when(has_zone, ts).otherwise(F.to_utc_timestamp(ts, log_timezone))
    written = F.regexp_extract(raw, r"(Z|[+-][0-9]{2}:?[0-9]{2})$", 1)
    offset = F.when(written == "Z", "+0000").when(written != "", F.regexp_replace(written, ":", ""))
    return ts.cast("timestamp"), F.when(has_zone, offset)


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
        from spark_jobs.json_logs import parse_json_lines

        return parse_json_lines(df, log_timezone=log_timezone)
    line_format = preset(fmt) if isinstance(fmt, str) else fmt
    # A file written on Windows (or through a CRLF-translating copy) ends lines with \r.
    line = F.regexp_replace(F.col("value"), r"\r+$", "")
    work, matched, g = _split_groups(df, line, line_format.pattern, "_g_")
    ts, offset = parse_time(g["time"], line_format.time_format, log_timezone)
    work = work.withColumns({"_ts": ts, "_offset": offset})
    ts = F.col("_ts")
    work, request = _request_parts(work, g)
    nbytes = g.get("bytes", F.lit("-"))
    status = g.get("status", F.lit(None))
    status_ok = status.rlike(r"^[0-9]{3}$")
    bytes_ok = nbytes.rlike(r"^[0-9]{1,18}$") | nbytes.isin("-", "")
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
    reason = (
        F.when(F.col("value").rlike(r"^\s*$"), "empty")
        .when(~matched, "no_match")
        .when(ts.isNull(), "bad_timestamp")
        .when(~status_ok, "bad_status")
        .when(~bytes_ok, "bad_bytes")
    )
    out = with_parsed_columns(work, columns, matched, reason)
    temporary = [c for c in out.columns if c.startswith(("_g_", "_r_")) or c in ("_ts", "_offset")]
    return out.drop(*temporary)


def with_parsed_columns(
    df: DataFrame, columns: dict[str, Column], matched: Column, reason: Column
) -> DataFrame:
    """Add typed PARSED_SCHEMA columns (null unless ``matched``) and ``reason``."""
    casts = {f.name: f.dataType for f in PARSED_SCHEMA.fields}
    parsed = {name: F.when(matched, col).cast(casts[name]) for name, col in columns.items()}
    return df.withColumns(parsed).withColumn("reason", reason)


def split_parsed(df: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(parsed rows with exactly PARSED_SCHEMA, quarantined lines with QUARANTINE_SCHEMA)."""
    good = df.where(F.col("reason").isNull()).select(
        *[F.col(f.name).cast(f.dataType) for f in PARSED_SCHEMA.fields]
    )
    bad = df.where(F.col("reason").isNotNull()).select(
        F.col("source_file").cast("string"),
        (F.col("line_no") if "line_no" in df.columns else F.lit(None))
        .cast("long")
        .alias("line_no"),
        F.col("value").alias("line"),
        F.col("reason"),
    )
    return good, bad


def _utc(moment: datetime) -> datetime:
    """Naive bounds are UTC: PySpark would otherwise read them in the driver's local zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def in_interval(start: datetime, end: datetime, ts: str = "ts") -> Column:
    """``start <= ts < end`` as a column, to filter or to count out-of-window rows in an agg."""
    col = F.col(ts)
    return (col >= F.lit(_utc(start))) & (col < F.lit(_utc(end)))


def within_interval(df: DataFrame, start: datetime, end: datetime) -> DataFrame:
    """Rows of the data interval: logs files overlap days, a run must own only its interval."""
    return df.where(in_interval(start, end))


def outside_interval(df: DataFrame, start: datetime, end: datetime) -> DataFrame:
    """Rows with a time outside the interval (rows without a time are neither in nor out)."""
    return df.where(~in_interval(start, end))


def read_lines(spark: SparkSession, glob: str) -> DataFrame:
    """Lines (``value``) of the files matching ``glob`` with their ``source_file``.

    Lines split on ``\\n`` only, so a stray ``\\r`` inside a user agent does not cut a line in two.
    """
    try:
        df = spark.read.option("lineSep", "\n").text(glob)
    except AnalysisException as exc:
        if _condition(exc) == "PATH_NOT_FOUND":
            raise StageFailed(f"no log file matches {glob}") from exc
        raise
    return df.select("value", F.col("_metadata.file_path").alias("source_file"))


def _condition(exc: AnalysisException) -> str | None:
    getter = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", None)
    return getter() if getter else None
