"""The columns every parser produces, and the small column helpers the text and JSON parsers share.

``PARSED_SCHEMA`` is the contract of the ``parsed`` lake dataset; ``QUARANTINE_SCHEMA`` that of
``quarantine``. Pure DataFrame transforms only, so tests feed tiny inline DataFrames.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.parsing.formats.regex import ISO_TIME

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

QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("source_file", T.StringType()),
        T.StructField("line_no", T.LongType()),
        T.StructField("line", T.StringType()),
        T.StructField("reason", T.StringType()),
    ]
)

#: Why a line was quarantined, in the order they are checked (JSON lines check ``not_json``
#: after ``empty``).
REASONS = ("empty", "no_match", "bad_timestamp", "bad_status", "bad_bytes")

#: ``METHOD TARGET [PROTOCOL]``; anything else (worm garbage, ``-``) leaves these null.
REQUEST_PATTERN = r"^(?<method>[A-Za-z_-]+) (?<target>\S+)(?: (?<protocol>\S+))?$"
#: A status is three digits; a size fits a long (a bigger one is garbage, not a size).
STATUS_PATTERN = r"^[0-9]{3}$"
BYTES_PATTERN = r"^[0-9]{1,18}$"

_ZONE_LETTERS = re.compile(r"[XxZOV]")


def dash_to_null(col: Column) -> Column:
    """Logs write ``-`` for "no value"; an empty or absent field means the same."""
    return F.when(~col.isin("-", ""), col)


def without_trailing_cr(line: Column) -> Column:
    """A file written on Windows (or through a CRLF-translating copy) ends lines with ``\\r``."""
    return F.regexp_replace(line, r"\r+$", "")


def quarantine_reason(
    empty: Column,
    matched: Column,
    ts: Column,
    status_ok: Column,
    bytes_ok: Column,
    not_json: Column | None = None,
) -> Column:
    """The first of ``REASONS`` (``not_json`` after ``empty``) that holds; null when none does."""
    reason = F.when(empty, "empty")
    if not_json is not None:
        reason = reason.when(not_json, "not_json")
    return (
        reason.when(~matched, "no_match")
        .when(ts.isNull(), "bad_timestamp")
        .when(~status_ok, "bad_status")
        .when(~bytes_ok, "bad_bytes")
    )


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
