"""Site-relative twins: a session's mid-rank percentile among its population's sessions."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_jobs.features.catalog import ALL_FEATURE_NAMES, RELATIVE_BASES
from spark_jobs.features.relative import with_relative_features

pytestmark = pytest.mark.spark


def test_ties_share_their_mid_rank_and_a_lone_session_is_the_middle(spark):
    df = spark.createDataFrame(
        [("a", "d1", 1.0), ("b", "d1", 2.0), ("c", "d1", 2.0), ("d", "d1", 10.0), ("e", "d2", 7.0)],
        "session string, day string, requests double",
    )
    out = with_relative_features(df, F.col("day")).select("session", "requests_pct")
    # percent_rank 0, 1/3, 1/3, 1 and cume_dist 1/4, 3/4, 3/4, 1, averaged; d2 alone: (0 + 1) / 2.
    expected = spark.createDataFrame(
        [("a", 0.125), ("b", 13 / 24), ("c", 13 / 24), ("d", 1.0), ("e", 0.5)],
        "session string, requests_pct double",
    )
    assertDataFrameEqual(out, expected, rtol=1e-12)


def test_the_same_behaviour_gets_the_same_percentile_on_any_scale(spark):
    small = spark.createDataFrame([(float(v),) for v in (1, 2, 3, 4)], "bytes_mean double")
    large = small.select((F.col("bytes_mean") * 80).alias("bytes_mean"))
    pct = [
        r[0]
        for r in with_relative_features(small)
        .orderBy("bytes_mean")
        .select("bytes_mean_pct")
        .collect()
    ]
    assert pct == [
        r[0]
        for r in with_relative_features(large)
        .orderBy("bytes_mean")
        .select("bytes_mean_pct")
        .collect()
    ]


def test_every_base_that_is_present_gets_a_twin_named_in_the_catalogue(spark):
    df = spark.createDataFrame([(1.0, 2.0, 3.0)], "requests double, duration double, other double")
    out = with_relative_features(df)
    assert out.columns == ["requests", "duration", "other", "requests_pct", "duration_pct"]
    assert {f"{b}_pct" for b in RELATIVE_BASES} <= set(ALL_FEATURE_NAMES)
