"""The per-row columns of the sequence features: referrer paths, think time, assets, error runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import functions as F

from spark_jobs.features.sequence import referrer_path, with_time_sequence
from spark_jobs.features.sessions import with_sessions

pytestmark = pytest.mark.spark
T0 = datetime(2015, 5, 17, 1, tzinfo=UTC)


def test_a_referrers_path_is_what_a_browser_would_have_requested(spark):
    refs = ["http://a.example/x/y?q=1", "https://a.example", "http://a.example/#top", "-", None]
    df = spark.createDataFrame([(r,) for r in refs], "referrer string")
    got = [r[0] for r in df.select(referrer_path(F.col("referrer"))).collect()]
    assert got == ["/x/y", "/", "/", None, None]


def test_time_sequence_columns_on_one_session(spark):
    rows = [  # seconds, path class, status
        (0, "page", 200), (3, "static", 200), (20, "page", 404), (21, "page", 500),
        (40, "static", 200), (41, "page", 404),
    ]  # fmt: skip
    df = spark.createDataFrame(
        [("e", T0 + timedelta(seconds=s), c, st) for s, c, st in rows],
        "entity string, ts timestamp, path_class string, status int",
    )
    out = with_time_sequence(with_sessions(df, 30.0)).orderBy("ts").collect()
    assert [r["page_think"] for r in out] == [None, None, 20.0, 1.0, None, 20.0]
    # The page at 21 s is followed by the static at 40 s: 19 s, more than 10 s.
    assert [r["assets_followed"] for r in out] == [1.0, None, 0.0, 0.0, None, 0.0]
    assert [r["error_run"] for r in out] == [None, None, 1, 2, None, 1]
