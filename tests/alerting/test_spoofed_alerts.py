"""A crawler claim its operator refutes is an alert whatever the score, and says so."""

from __future__ import annotations

from pyspark.sql import functions as F

from spark_jobs.alerting.candidates import (
    candidates,
    to_records,
    top_session_per_entity,
    with_alert_id,
    with_check_columns,
    with_sample_requests,
    with_top_features,
)
from spark_jobs.alerting.lifecycle import RAISED, Decision
from spark_jobs.features.crawler_check import verdict
from tests.test_alert import BOT_CONTRIB, END, SCORES_SCHEMA, START, _score

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
# almhuette_raith: a Colombian ISP's client as "Googlebot"; elastic_examples: Google's own.
SPOOFED, GENUINE = "190.165.220.24", "66.249.73.135"


def _scores(spark):
    rows = [_score(SPOOFED, 12, 40.0, BOT_CONTRIB), _score(GENUINE, 30, 60.0, BOT_CONTRIB),
            _score("198.51.100.7", 40, 99.5, BOT_CONTRIB)]  # fmt: skip
    df = spark.createDataFrame(rows, SCORES_SCHEMA).withColumn("user_agent", F.lit(GOOGLEBOT))
    checks = {c: verdict(c, GOOGLEBOT) for c in (SPOOFED, GENUINE, "198.51.100.7")}
    spoofed = F.create_map(
        *[x for c, v in checks.items() for x in (F.lit(c), F.lit(float(v.spoofed)))]
    )
    why = F.create_map(*[x for c, v in checks.items() for x in (F.lit(c), F.lit(v.reason))])
    return df.withColumns({"crawler_operator": F.lit("google"), "spoofed_crawler": spoofed[F.col("client")],
                           "crawler_check": why[F.col("client")]})  # fmt: skip


def test_a_spoofed_crawler_is_a_candidate_below_the_threshold_only_when_asked(spark):
    scores = top_session_per_entity(_scores(spark))
    asked = {r["entity"] for r in candidates(scores, 95, 5, spoofed_alert=True).collect()}
    not_asked = {r["entity"] for r in candidates(scores, 95, 5).collect()}
    assert asked == {SPOOFED, "198.51.100.7"}  # the genuine Googlebot at 60 stays quiet
    assert not_asked == {"198.51.100.7"}


def test_its_record_and_reason_say_why_the_claim_is_false(spark):
    flagged = candidates(top_session_per_entity(_scores(spark)), 95, 5, spoofed_alert=True)
    alerts = with_sample_requests(
        with_top_features(with_alert_id(flagged, "uc", START, END), 1), None, 0, "client"
    )
    decisions = {r["alert_id"]: Decision(RAISED) for r in alerts.collect()}
    records = {r["entity"]: r for r in to_records(alerts, decisions, "client", lambda s: "medium")}
    spoofed = records[SPOOFED]
    assert (spoofed["crawler_operator"], spoofed["spoofed_crawler"]) == ("google", True)
    assert spoofed["reason"] == (
        f"spoofed crawler: claims Google but {SPOOFED} is outside its published ranges "
        "(googlebot.json of 2026-08-20); score 40.0 < 95: robots_txt=1 (median 0, p100)"
    )
    assert records["198.51.100.7"]["reason"].startswith(
        "spoofed crawler: claims Google but 198.51.100.7"
    )


def test_scores_written_before_the_check_get_null_check_columns(spark):
    old = spark.createDataFrame([_score("203.0.113.1", 40, 99.5, BOT_CONTRIB)], SCORES_SCHEMA)
    flagged = candidates(top_session_per_entity(with_check_columns(old)), 95, 5, spoofed_alert=True)
    alerts = with_sample_requests(
        with_top_features(with_alert_id(flagged, "uc", START, END), 1), None, 0, "client"
    )
    (record,) = to_records(
        alerts, {alerts.first()["alert_id"]: Decision(RAISED)}, "client", lambda s: "high"
    )
    assert (record["crawler_operator"], record["spoofed_crawler"], record["crawler_check"]) == (
        None,
        None,
        None,
    )
    assert record["reason"].startswith("score 99.5 >= 95:")
