"""``when:`` compiled to a Spark column: the same verdicts Python's reading of it gives."""

from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from spark_jobs.alerting.scope import IN_SCOPE, with_scope
from spark_jobs.config.conditions import parse

pytestmark = pytest.mark.spark

SCHEMA = (
    "entity string, requests double, status_404_share double, night_share double, "
    "declared_crawler double, spoofed_crawler double, crawler_operator string"
)
ROWS = [
    ("night-404", 40.0, 0.5, 0.9, 0.0, None, None),
    ("day-404", 40.0, 0.5, 0.1, 0.0, None, None),
    ("crawler", 300.0, 0.0, 0.5, 1.0, 0.0, "google"),
    ("spoofer", 12.0, 0.1, 0.0, 1.0, 1.0, "google"),
    ("no-values", 3.0, None, None, 0.0, None, None),
]


def _in_scope(spark, text):
    scored = with_scope(spark.createDataFrame(ROWS, SCHEMA), parse(text))
    return {row["entity"] for row in scored.where(IN_SCOPE).collect()}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status_404_share >= 0.2 and night_share >= 0.5", {"night-404"}),
        ("status_404_share * requests >= 2 and not declared_crawler", {"night-404", "day-404"}),
        ("declared_crawler and not spoofed_crawler", {"crawler"}),
        ("spoofed_crawler == true", {"spoofer"}),
        ("crawler_operator in ['google', 'bing'] and requests < 100", {"spoofer"}),
        ("crawler_operator not in ['google']", set()),  # null is not "not google": unknown
        ("0.05 < status_404_share < 0.6", {"night-404", "day-404", "spoofer"}),
        ("requests / status_404_share > 100", {"spoofer"}),  # x / 0 is no match, not an error
        ("not (night_share >= 0.5)", {"day-404", "spoofer"}),  # missing values stay out
        ("-night_share <= -0.5 or requests + 1 == 4", {"night-404", "crawler", "no-values"}),
    ],
)
def test_sessions_in_scope_are_those_the_condition_reads(spark, text, expected):
    assert _in_scope(spark, text) == expected


def test_without_a_condition_every_session_is_in_scope(spark):
    scored = with_scope(spark.createDataFrame(ROWS, SCHEMA), None)
    assertDataFrameEqual(scored.select("entity", IN_SCOPE), [(r[0], True) for r in ROWS])
