"""Entities and sessions: who made a request and which visit of theirs it belongs to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import functions as F

from spark_jobs.features import behaviour as bf
from spark_jobs.features import sessions

SCHEMA = "ts timestamp, client string, user_agent string, session_id string, path string"
T0 = datetime(2015, 5, 17, 1, 0, 0, tzinfo=UTC)
GAP = timedelta(minutes=30)


def _row(at: timedelta, client="1.1.1.1", ua="Mozilla/5.0", sid=None, path="/"):
    return (T0 + at, client, ua, sid, path)


def _split(spark, rows, gap):
    """[(entity, session, iat)] by entity and time, for rows keyed by client."""
    df = sessions.with_entity(spark.createDataFrame(rows, SCHEMA), "client")
    out = sessions.with_sessions(df, gap).orderBy("entity", "ts")
    return [(r["entity"], r["session"], r["iat"]) for r in out.collect()]


def test_entity_keys(spark):
    rows = [
        _row(timedelta(0), "1.1.1.1", "Mozilla/5.0", "abc"),
        _row(timedelta(0), "2.2.2.2", None, "-"),
        _row(timedelta(0), None, "curl/8.0", ""),
        _row(timedelta(0), "-", "curl/8.0", None),
    ]
    df = spark.createDataFrame(rows, SCHEMA)
    keys = {key: sessions.entity_column(key).alias(key) for key in sessions.ENTITY_KEYS}
    actual = [tuple(r) for r in df.select(*keys.values()).collect()]
    assert actual == [
        ("1.1.1.1", "1.1.1.1 | Mozilla/5.0", "abc"),
        ("2.2.2.2", "2.2.2.2 | -", None),
        (None, None, None),
        (None, None, None),
    ]
    assert [sessions.unattributed_rows(df, key) for key in sessions.ENTITY_KEYS] == [2, 2, 3]
    with pytest.raises(ValueError, match="unknown entity key"):
        sessions.with_entity(df, "ip")


def test_a_pause_of_exactly_the_gap_continues_the_session_and_a_longer_one_ends_it(spark):
    at = [timedelta(0), GAP, 2 * GAP + timedelta(seconds=1), 2 * GAP + timedelta(seconds=2)]
    rows = [_row(t) for t in at] + [_row(GAP, "2.2.2.2")]
    assert _split(spark, rows, 30.0) == [
        ("1.1.1.1", "1.1.1.1#2015-05-17T01:00:00Z", None),
        ("1.1.1.1", "1.1.1.1#2015-05-17T01:00:00Z", 1800.0),
        ("1.1.1.1", "1.1.1.1#2015-05-17T02:00:01Z", None),
        ("1.1.1.1", "1.1.1.1#2015-05-17T02:00:01Z", 1.0),
        ("2.2.2.2", "2.2.2.2#2015-05-17T01:30:00Z", None),
    ]


def test_fractional_gaps_and_sub_second_session_starts(spark):
    at = [timedelta(seconds=0.25), timedelta(seconds=30.25), timedelta(seconds=60.5)]
    assert _split(spark, [_row(t) for t in at], 0.5) == [
        ("1.1.1.1", "1.1.1.1#2015-05-17T01:00:00.250000Z", None),
        ("1.1.1.1", "1.1.1.1#2015-05-17T01:00:00.250000Z", 30.0),
        ("1.1.1.1", "1.1.1.1#2015-05-17T01:01:00.500000Z", None),
    ]


def test_without_a_gap_the_session_is_the_entity(spark):
    rows = [_row(timedelta(0)), _row(timedelta(hours=20)), _row(timedelta(hours=1), "2.2.2.2")]
    assert _split(spark, rows, None) == [
        ("1.1.1.1", "1.1.1.1", None),
        ("1.1.1.1", "1.1.1.1", 72000.0),
        ("2.2.2.2", "2.2.2.2", None),
    ]


def test_session_ids_do_not_depend_on_the_spark_time_zone(spark):
    rows = [_row(timedelta(hours=23, minutes=59, seconds=59))]
    previous = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "Pacific/Kiritimati")  # UTC+14
    try:
        assert _split(spark, rows, 30.0)[0][1] == "1.1.1.1#2015-05-18T00:59:59Z"
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)


def test_session_id_key_drops_and_counts_rows_without_one(spark):
    rows = [
        # Iliou-style: no client address, a session id per visit.
        _row(timedelta(0), None, "Mozilla/5.0", "s1", "/a"),
        _row(timedelta(hours=3), None, "Mozilla/5.0", "s1", "/b"),
        _row(timedelta(hours=3), None, "Firefox", "s1", "/b"),
        _row(timedelta(0), None, "bot", "s2", "/robots.txt"),
        _row(timedelta(0), None, "bot", None, "/x"),
        _row(timedelta(0), None, "bot", "-", "/x"),
        _row(timedelta(0), None, "bot", "", "/x"),
    ]
    df = spark.createDataFrame(rows, SCHEMA).withColumns(
        {"method": F.lit("GET"), "query": F.lit(None).cast("string"), "status": F.lit(200),
         "bytes": F.lit(1).cast("long"), "referrer": F.lit(None).cast("string")}
    )  # fmt: skip
    out = bf.session_features(df, "session_id", "UTC", None)
    got = {
        r["session"]: (r["entity"], r["requests"], r["distinct_user_agents"]) for r in out.collect()
    }
    # Without a client, distinct_user_agents is the session's own count.
    assert got == {"s1": ("s1", 3.0, 2.0), "s2": ("s2", 1.0, 1.0)}
    assert sessions.unattributed_rows(df, "session_id") == 3
