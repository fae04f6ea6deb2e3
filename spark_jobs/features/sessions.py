"""Who made each request (the entity) and which visit of theirs it belongs to (the session).

Web-robot detection describes sessions rather than clients (Tan & Kumar 2002; Stassopoulou &
Dikaiakos 2009; Doran & Gokhale 2011): a browser and a crawler behind one address, or one
user's visits hours apart, are different behaviours, and labelled data sets (Iliou et al.
2019) label sessions. A session is a run of an entity's requests without a pause longer than the gap;
the classic 30-minute timeout is the config default (``entity.session_gap_minutes``).

Everything is Spark SQL over one window per entity ordered by time, so splitting sessions costs
one shuffle on ``entity``. The ``with_*_counts`` transforms at the end add the per-row counts
within a session that the features need, on that same partitioning.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window, WindowSpec
from pyspark.sql import functions as F

from spark_jobs.config.usecase import ENTITY_KEYS

_MICROS = 1_000_000
_WHOLE = (Window.unboundedPreceding, Window.unboundedFollowing)


def _present(col: Column) -> Column:
    """Null for the values logs write when there is none (``-``, empty, blanks)."""
    return F.when(~F.trim(col).isin("", "-"), col)


def entity_column(key: str) -> Column:
    """What one session belongs to; null when the row cannot be attributed.

    ``client_user_agent`` separates NAT'd users and bots that share an address with humans; a
    missing UA becomes ``-`` so those requests still form an entity. ``session_id`` is the
    application's session id (e.g. PHPSESSID), for logs without client addresses.
    """
    if key == "client":
        return _present(F.col("client"))
    if key == "client_user_agent":
        ua = F.coalesce(_present(F.col("user_agent")), F.lit("-"))
        return F.concat(_present(F.col("client")), F.lit(" | "), ua)
    if key == "session_id":
        return _present(F.col("session_id"))
    raise ValueError(f"unknown entity key {key!r}; known: {', '.join(ENTITY_KEYS)}")


def with_entity(df: DataFrame, key: str) -> DataFrame:
    """Add ``entity`` (see ``entity_column``); rows without one keep a null ``entity``."""
    return df.withColumn("entity", entity_column(key))


def attributed(df: DataFrame) -> DataFrame:
    """Rows of ``with_entity`` that belong to an entity: the others cannot form a session."""
    return df.where(F.col("entity").isNotNull())


def unattributed_rows(parsed_df: DataFrame, key: str) -> int:
    """How many rows ``session_features`` drops for lack of an entity (a Spark job), so the
    stage's run record says how much of the log the features do not describe."""
    return parsed_df.where(entity_column(key).isNull()).count()


def _iso_utc(micros: Column) -> Column:
    """``2015-05-17T01:02:03Z`` (``.ffffff`` before the Z when not a whole second) of epoch
    microseconds. Arithmetic rather than ``date_format``, which renders in the Spark session's
    time zone: a session id must not depend on it."""
    fraction = F.pmod(micros, F.lit(_MICROS))
    seconds = ((micros - fraction) / F.lit(_MICROS)).cast("long")
    of_day = F.pmod(seconds, F.lit(86400))
    day = F.date_add(F.lit("1970-01-01").cast("date"), F.floor(seconds / 86400).cast("int"))
    clock = F.format_string(
        "%sT%02d:%02d:%02d",
        day.cast("string"),
        F.floor(of_day / 3600).cast("int"),
        F.floor(of_day % 3600 / 60).cast("int"),
        (of_day % 60).cast("int"),
    )
    sub_second = F.when(fraction != 0, F.format_string(".%06d", fraction)).otherwise("")
    return F.concat(clock, sub_second, F.lit("Z"))


def by_time(df: DataFrame) -> WindowSpec:
    """The session window: an entity's requests by time, those of one instant by status.

    Logs of one-second resolution have many requests at the same instant; ordering them by
    status too (when the rows have one) makes every feature read along this order (the error
    runs of ``features.sequence``) the same on every rerun. Every transform that uses this
    window shares its one sort.
    """
    ties = ["status"] if "status" in df.columns else []
    return Window.partitionBy("entity").orderBy("ts", *ties)


def with_sessions(df: DataFrame, gap_minutes: float | None) -> DataFrame:
    """Add ``session`` and ``iat`` to rows of ``with_entity`` (null entities: drop them first).

    A session starts at an entity's first request and at every request more than
    ``gap_minutes`` after the entity's previous one (exactly the gap is still the same
    session); ``None`` makes all of an entity's rows one session. ``session`` is
    ``"{entity}#{start as ISO UTC}"``, unique across entities and the same on every rerun;
    with ``None`` it is the entity itself, so labels keyed by entity (a session id) match.

    ``iat`` is the seconds since the previous request of the same session, null on its first
    request: the gap that decided the split, kept so that timing features need no second
    window.
    """
    window = by_time(df)
    micros = F.unix_micros(F.col("ts"))
    since_previous = micros - F.lag(micros).over(window)
    if gap_minutes is None:
        new_session = since_previous.isNull()
    else:
        gap = F.lit(round(gap_minutes * 60 * _MICROS))
        new_session = since_previous.isNull() | (since_previous > gap)
    df = df.withColumns(
        {
            "_sessions_new": new_session,
            "iat": F.when(~new_session, since_previous / F.lit(float(_MICROS))),
        }
    )
    if gap_minutes is None:
        return df.drop("_sessions_new").withColumn("session", F.col("entity"))
    # Times only grow along the window, so the latest start so far is this row's session's.
    start = F.max(F.when(F.col("_sessions_new"), micros)).over(
        window.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    session = F.concat(F.col("entity"), F.lit("#"), _iso_utc(start))
    return df.withColumn("session", session).drop("_sessions_new")


# --- per-row counts within a session, for the features ---------------------------------------
# Windows rather than aggregations: they keep the rows partitioned by entity, so the features'
# per-session aggregation needs no shuffle, and ``mode``/``collect_set`` there would make it
# an interpreted (object hash) aggregation, about twice as slow.


def with_minute_requests(df: DataFrame) -> DataFrame:
    """Add ``minute_requests``: the row's position among its session's requests of the same
    clock minute, so the largest is their count. Along the session window (sorted already)
    those rows are consecutive: the position counts from the run's first row."""
    window = by_time(df)
    minute = F.floor(F.unix_micros(F.col("ts")) / 60_000_000)
    previous_minute, previous_session = F.lag(minute).over(window), F.lag("session").over(window)
    starts_run = (
        previous_minute.isNull()
        | (previous_minute != minute)
        | (previous_session != F.col("session"))
    )
    df = df.withColumns({"_sessions_rn": F.row_number().over(window), "_sessions_run": starts_run})
    run_start = F.max(F.when(F.col("_sessions_run"), F.col("_sessions_rn"))).over(
        window.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    position = F.col("_sessions_rn") - run_start + 1
    return df.withColumn("minute_requests", position).drop("_sessions_rn", "_sessions_run")


def with_agent_counts(df: DataFrame) -> DataFrame:
    """Add ``agent_requests`` (the session's requests with this row's user agent, a missing
    one being one more value) and ``first_of_agent`` (one row per such value)."""
    by_agent = Window.partitionBy("entity", "session", "user_agent").orderBy("ts")
    return df.withColumns(
        {
            "agent_requests": F.count(F.lit(1)).over(by_agent.rowsBetween(*_WHOLE)),
            "first_of_agent": F.row_number().over(by_agent) == 1,
        }
    )


def with_path_counts(df: DataFrame) -> DataFrame:
    """Add ``path_depth`` (non-empty ``/`` segments of ``path``), ``path_requests`` (the
    session's requests for this row's path), ``first_of_path`` / ``first_request`` (one row
    per distinct non-null path / (method, path, query)) and ``depth_width`` (the session's
    distinct paths at this row's depth).

    Both windows sort by entity, session, depth, path, method, query, ts (a path has one
    depth), so Spark sorts once for the two.
    """
    # Number of runs of non-'/' characters: an x for each, then count the x.
    depth = F.length(F.translate(F.regexp_replace(F.col("path"), "[^/]+", "x"), "/", ""))
    keys = ["entity", "session", "path_depth"]
    by_path = Window.partitionBy(*keys, "path").orderBy("method", "query", "ts")
    by_depth = Window.partitionBy(*keys).orderBy("path", "method", "query", "ts")
    first = F.row_number().over(by_path) == 1
    same_method = F.lag("method").over(by_path).eqNullSafe(F.col("method"))
    same_query = F.lag("query").over(by_path).eqNullSafe(F.col("query"))
    df = df.withColumn("path_depth", depth).withColumns(
        {
            "path_requests": F.count(F.lit(1)).over(by_path.rowsBetween(*_WHOLE)),
            "first_of_path": first & F.col("path").isNotNull(),
            "first_request": first | ~(same_method & same_query),
        }
    )
    width = F.sum(F.col("first_of_path").cast("int")).over(by_depth.rowsBetween(*_WHOLE))
    return df.withColumn("depth_width", width)
