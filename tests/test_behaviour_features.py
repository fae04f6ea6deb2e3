"""Each behaviour feature on a few hand-made log rows, with expected values worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from pyspark.testing import assertDataFrameEqual

from spark_jobs import behaviour_features as bf
from spark_jobs.usecase_schema import KNOWN_FEATURES

PARSED_SCHEMA = (
    "ts timestamp, ts_offset string, client string, ident string, auth_user string, "
    "method string, path string, query string, protocol string, request string, status int, "
    "bytes long, referrer string, user_agent string, source_file string"
)

MOZ, CURL = "Mozilla/5.0", "curl/8.0"


def _row(ts, client, method, path, status, size, referrer, ua):
    request = f"{method} {path} HTTP/1.1" if method else "-"
    return (ts, "+0000", client, "-", "-", method, path, None, "HTTP/1.1", request, status, size,
            referrer, ua, "test.log")  # fmt: skip


def _t(hh, mm, ss, day=17):
    return datetime(2015, 5, day, hh, mm, ss, tzinfo=UTC)


ROWS = [
    # 1.1.1.1: a browser session plus one curl request six hours later.
    _row(_t(1, 0, 0), "1.1.1.1", "GET", "/index.html", 200, 1000, "http://x/", MOZ),
    _row(_t(1, 0, 10), "1.1.1.1", "GET", "/style.css", 200, None, "http://x/index.html", MOZ),
    _row(_t(1, 0, 40), "1.1.1.1", "GET", "/logo.PNG", 304, 500, None, MOZ),
    _row(_t(7, 0, 40), "1.1.1.1", "POST", "/index.html", 404, 200, None, CURL),
    # 2.2.2.2: no UA; robots.txt by HEAD, then an unparseable request line in the same second.
    _row(_t(23, 30, 0), "2.2.2.2", "HEAD", "/robots.txt", 200, 68, "-", None),
    _row(_t(23, 30, 0), "2.2.2.2", None, None, 400, None, None, None),
    # 3.3.3.3: a single request.
    _row(_t(12, 0, 0), "3.3.3.3", "GET", "/a", 503, 10, "http://r/", "bot/1.0"),
]

IAT_A = [10.0, 30.0, 21600.0]

# Columns: entity, client, user_agent, then KNOWN_FEATURES in order.
EXPECTED_BY_CLIENT = [
    ("1.1.1.1", "1.1.1.1", MOZ,
     4.0, 3.0, 0.75, 0.0, 0.25, 0.5, 0.25, 0.25, 0.0, 0.5, 0.25, 0.0, 0.5, 0.75,
     float(np.mean(IAT_A)), float(np.std(IAT_A)), 21640.0, 425.0, 1000.0, 2.0),
    ("2.2.2.2", "2.2.2.2", None,
     2.0, 1.0, 0.5, 0.5, 0.0, 0.5, 0.0, 0.5, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0,
     0.0, 0.0, 0.0, 34.0, 68.0, 1.0),
    ("3.3.3.3", "3.3.3.3", "bot/1.0",
     1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0,
     0.0, 0.0, 0.0, 10.0, 10.0, 1.0),
]  # fmt: skip


@pytest.fixture(scope="module")
def parsed(spark):
    return spark.createDataFrame(ROWS, PARSED_SCHEMA)


def test_feature_docs_cover_exactly_the_known_features():
    assert tuple(bf.FEATURE_DOCS) == KNOWN_FEATURES
    assert all(doc.strip() for doc in bf.FEATURE_DOCS.values())


def test_every_feature_by_client_in_utc(parsed):
    actual = bf.entity_features(parsed, "client", "UTC")
    assert actual.columns == ["entity", "client", "user_agent", *KNOWN_FEATURES]
    assert all(t == "double" for _, t in actual.dtypes[3:])
    expected = actual.sparkSession.createDataFrame(EXPECTED_BY_CLIENT, actual.schema)
    assertDataFrameEqual(actual, expected)


def test_night_share_uses_the_use_case_time_zone_not_the_session_one(parsed):
    # In New York (UTC-4 in May) only 1.1.1.1's 07:00:40 UTC request (03:00:40) is at night.
    spark = parsed.sparkSession
    previous = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "Asia/Kolkata")
    try:
        actual = bf.entity_features(parsed, "client", "America/New_York").select(
            "entity", "night_share"
        )
        expected = spark.createDataFrame(
            [("1.1.1.1", 0.25), ("2.2.2.2", 0.0), ("3.3.3.3", 0.0)], actual.schema
        )
        assertDataFrameEqual(actual, expected)
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)


def test_client_user_agent_entities_split_a_client_by_its_user_agents(parsed):
    actual = bf.entity_features(parsed, "client_user_agent", "UTC").select(
        "entity", "client", "user_agent", "requests", "iat_mean", "distinct_user_agents"
    )
    expected = parsed.sparkSession.createDataFrame(
        [
            (f"1.1.1.1 | {MOZ}", "1.1.1.1", MOZ, 3.0, 20.0, 1.0),
            (f"1.1.1.1 | {CURL}", "1.1.1.1", CURL, 1.0, 0.0, 1.0),
            ("2.2.2.2 | -", "2.2.2.2", None, 2.0, 0.0, 1.0),
            ("3.3.3.3 | bot/1.0", "3.3.3.3", "bot/1.0", 1.0, 0.0, 1.0),
        ],
        actual.schema,
    )
    assertDataFrameEqual(actual, expected)


def test_with_entity_keys(parsed):
    actual = (
        bf.with_entity(parsed, "client_user_agent")
        .withColumnRenamed("entity", "ua_entity")
        .transform(lambda df: bf.with_entity(df, "client"))
        .select("entity", "ua_entity")
        .distinct()
    )
    expected = parsed.sparkSession.createDataFrame(
        [
            ("1.1.1.1", f"1.1.1.1 | {MOZ}"),
            ("1.1.1.1", f"1.1.1.1 | {CURL}"),
            ("2.2.2.2", "2.2.2.2 | -"),
            ("3.3.3.3", "3.3.3.3 | bot/1.0"),
        ],
        "entity string, ua_entity string",
    )
    assertDataFrameEqual(actual, expected)


def test_unknown_entity_key_is_rejected(parsed):
    with pytest.raises(ValueError, match="unknown entity key"):
        bf.with_entity(parsed, "session")
