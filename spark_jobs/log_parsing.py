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
        T.StructField("source_file", T.StringType()),
    ]
)
PARSED_COLUMNS = tuple(PARSED_SCHEMA.fieldNames())

QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("source_file", T.StringType()),
        T.StructField("line", T.StringType()),
        T.StructField("reason", T.StringType()),
    ]
)

#: Apache writes ``%t`` like this; ``Z`` takes the numeric offset, so the result is a UTC instant.
TIME_FORMAT = "dd/MMM/yyyy:HH:mm:ss Z"

# A quoted field as Apache writes it: ``"`` and ``\`` inside are backslash-escaped. Possessive
# quantifiers keep Java's regex from backtracking (or recursing) through long user agents.
_QUOTED = r'(?:[^"\\]++|\\.)*+'

# Java named groups allow letters and digits only, hence ``authuser`` and ``useragent``.
_CLF_PREFIX = (
    r"^(?<client>\S+) (?<ident>\S+) (?<authuser>\S+) \[(?<time>[^\]]*)\] "
    rf'"(?<request>{_QUOTED})" (?<status>\S+) (?<bytes>\S+)'
)

#: One regex per format. ``common`` ignores anything after the size (so combined files read as
#: common just lose referrer and agent). ``combined`` accepts a missing agent, an agent cut off
#: before its closing quote (truncated lines happen in real logs), and ignores fields after the
#: agent (nginx often appends e.g. X-Forwarded-For).
LINE_PATTERNS = {
    "common": _CLF_PREFIX + r"(?: .*)?$",
    "combined": (
        _CLF_PREFIX
        + rf'(?: "(?<referrer>{_QUOTED})"(?: "(?<useragent>{_QUOTED})(?:"(?: .*)?)?)?)?$'
    ),
}

#: ``METHOD TARGET [PROTOCOL]``; anything else (worm garbage, ``-``) leaves these null.
REQUEST_PATTERN = r"^(?<method>[A-Za-z_-]+) (?<target>\S+)(?: (?<protocol>\S+))?$"

# Joins the groups of a match; Apache and nginx escape control characters, so a parsed field
# never holds it, and a line that does is caught by the field count check.
_SEP = "\x1f"


def _match_groups(col: Column, pattern: str) -> tuple[Column, dict[str, Column]]:
    """(matched, {group: value}) from one regex run; groups that did not take part are ''."""
    names = _group_names(pattern)
    replacement = "".join(_SEP + "${" + name + "}" for name in names)
    parts = F.split(F.regexp_replace(col, "(?s)" + pattern, replacement), _SEP, -1)
    matched = (F.size(parts) == len(names) + 1) & (F.get(parts, 0) == "")
    return matched, {name: F.get(parts, i + 1) for i, name in enumerate(names)}


def _group_names(pattern: str) -> list[str]:
    return re.findall(r"\(\?<([A-Za-z][A-Za-z0-9]*)>", pattern)


def _dash_to_null(col: Column) -> Column:
    """Logs write ``-`` for "no value"; an empty or absent field means the same."""
    return F.when(~col.isin("-", ""), col)


def parse_lines(df: DataFrame, fmt: str) -> DataFrame:
    """Add the parsed columns and ``reason`` (null when the line parsed) to ``value`` lines.

    Nothing is dropped here, so the caller can count and quarantine what did not parse.
    """
    if fmt not in LINE_PATTERNS:
        raise ValueError(f"unknown log format {fmt!r}; known: {', '.join(LINE_PATTERNS)}")
    # A file written on Windows (or through a CRLF-translating copy) ends lines with \r.
    line = F.regexp_replace(F.col("value"), r"\r+$", "")
    matched, g = _match_groups(line, LINE_PATTERNS[fmt])
    req_ok, r = _match_groups(g["request"], REQUEST_PATTERN)
    target = F.split(r["target"], r"\?", 2)
    status_ok = g["status"].rlike(r"^[0-9]{3}$")
    bytes_ok = g["bytes"].rlike(r"^[0-9]{1,18}$") | (g["bytes"] == "-")
    ts = F.try_to_timestamp(g["time"], F.lit(TIME_FORMAT)).cast("timestamp")
    columns = {
        "ts": ts,
        "ts_offset": F.nullif(F.regexp_extract(g["time"], r"([+-][0-9]{4})$", 1), F.lit("")),
        "client": g["client"],
        "ident": _dash_to_null(g["ident"]),
        "auth_user": _dash_to_null(g["authuser"]),
        "method": F.when(req_ok, r["method"]),
        "path": F.when(req_ok, F.get(target, 0)),
        "query": F.when(req_ok, F.nullif(F.get(target, 1), F.lit(""))),
        "protocol": F.when(req_ok, F.nullif(r["protocol"], F.lit(""))),
        "request": g["request"],
        "status": F.when(status_ok, g["status"].try_cast("int")),
        "bytes": F.when(g["bytes"] != "-", g["bytes"].try_cast("long")),
        "referrer": _dash_to_null(g["referrer"]) if "referrer" in g else F.lit(None),
        "user_agent": _dash_to_null(g["useragent"]) if "useragent" in g else F.lit(None),
    }
    reason = (
        F.when(F.trim(line) == "", "empty")
        .when(~matched, "no_match")
        .when(ts.isNull(), "bad_timestamp")
        .when(~status_ok, "bad_status")
        .when(~bytes_ok, "bad_bytes")
    )
    # Fields of a line that did not match are meaningless (and '' rather than null): blank them.
    parsed = {name: F.when(matched, col) for name, col in columns.items()}
    casts = {f.name: f.dataType for f in PARSED_SCHEMA.fields if f.name in parsed}
    return df.withColumns({n: c.cast(casts[n]) for n, c in parsed.items()}).withColumn(
        "reason", reason
    )


def split_parsed(df: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(parsed rows with exactly PARSED_SCHEMA, quarantined lines with QUARANTINE_SCHEMA)."""
    good = df.where(F.col("reason").isNull()).select(
        *[F.col(f.name).cast(f.dataType) for f in PARSED_SCHEMA.fields]
    )
    bad = df.where(F.col("reason").isNotNull()).select(
        F.col("source_file").cast("string"),
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
