"""Alert records from scores, and the alert stage across reruns, intervals and allowlists."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_jobs import alert
from spark_jobs.alerting import outbox
from spark_jobs.alerting.candidates import (
    candidates,
    to_records,
    top_session_per_entity,
    with_alert_id,
    with_sample_requests,
    with_top_features,
)
from spark_jobs.alerting.lifecycle import RAISED, Decision
from spark_jobs.alerting.scope import with_scope
from spark_jobs.config.conditions import parse
from spark_jobs.lake import layout
from tests.support.builders import run_record, stage_args, usecase_yaml
from tests.support.parsed_rows import PARSED_SCHEMA, parsed_row

START, END = datetime(2015, 5, 17, tzinfo=UTC), datetime(2015, 5, 18, tzinfo=UTC)
CONTRIB = (
    "array<struct<feature: string, value: double, population_median: double, "
    "percentile: double, share: double>>"
)
SCORES_SCHEMA = (
    "entity string, session string, session_start timestamp, session_end timestamp, "
    "client string, user_agent string, requests double, robots_txt double, "
    f"head_share double, score double, model_version string, contributions {CONTRIB}, "
    "declared_crawler boolean, crawler_name string, model_kind string"
)
BOT_CONTRIB = [
    ("robots_txt", 1.0, 0.0, 100.0, 0.6),
    ("head_share", 0.5, 0.0, 97.0, 0.3),
    ("requests", 40.0, 3.0, 90.0, 0.1),
]
DAY_START, DAY_END = datetime(2015, 5, 17), datetime(2015, 5, 17, 23, 59, 59)


def _score(entity, requests, score, contributions=(), session=0, start=DAY_START, end=DAY_END):
    return (
        entity,
        f"{entity}#{session}",
        start,
        end,
        entity,
        "UA",
        float(requests),
        0.0,
        0.0,
        score,
        "m1",
        list(contributions),
        False,
        None,
        "unsupervised",
    )


SCORES = [
    _score("1.1.1.1", 40, 99.5, BOT_CONTRIB),
    _score("2.2.2.2", 50, 97.0, BOT_CONTRIB[1:]),
    _score("3.3.3.3", 4, 99.9),  # too few requests to judge
    _score("4.4.4.4", 9, 94.9),  # below threshold
    _score("5.5.5.5", 6, 96.0),
]


def _parsed(client, second, path="/", user_agent="bot/1.0", method="GET", query=None):
    ts = datetime(2015, 5, 17, 10, 0, second)
    return parsed_row(ts, client, method=method, path=path, query=query, user_agent=user_agent)


PARSED = [
    _parsed("1.1.1.1", 30, "/c"),
    _parsed("1.1.1.1", 10, "/a", query="id=1"),
    _parsed("1.1.1.1", 20, "/robots.txt", method="HEAD"),
    _parsed("2.2.2.2", 5, "/x", user_agent=None),
    _parsed("9.9.9.9", 1, "/not-alerted"),
]


def test_candidates_keep_high_scores_with_enough_requests(spark):
    scores = spark.createDataFrame(SCORES, SCORES_SCHEMA)

    got = candidates(scores, threshold=95.0, min_requests=5)

    assertDataFrameEqual(
        got.select("entity", "score", "threshold"),
        [("1.1.1.1", 99.5, 95.0), ("2.2.2.2", 97.0, 95.0), ("5.5.5.5", 96.0, 95.0)],
    )


def test_alert_id_is_sha256_of_use_case_entity_interval_and_model_version(spark):
    df = spark.createDataFrame(
        [("1.1.1.1", "m1"), ("1.1.1.1", "m2")], "entity string, model_version string"
    )

    row, other_model = with_alert_id(df, "uc", START, END).orderBy("model_version").collect()
    other_day = with_alert_id(df, "uc", END, datetime(2015, 5, 19, tzinfo=UTC)).first()

    text = "uc|1.1.1.1|2015-05-17T00:00:00Z|2015-05-18T00:00:00Z|m1"
    assert row["alert_id"] == hashlib.sha256(text.encode()).hexdigest()
    assert (row["interval_start"], row["interval_end"]) == (
        "2015-05-17T00:00:00Z",
        "2015-05-18T00:00:00Z",
    )
    assert other_day["alert_id"] != row["alert_id"]
    assert other_model["alert_id"] != row["alert_id"]


def test_top_features_are_the_first_n_contributions(spark):
    df = spark.createDataFrame(
        [("a", BOT_CONTRIB), ("b", [])], f"entity string, contributions {CONTRIB}"
    )

    got = with_top_features(df, 2).select("entity", "top_features")

    assertDataFrameEqual(got, [("a", BOT_CONTRIB[:2]), ("b", [])])


SPAN = "entity string, session_start timestamp, session_end timestamp"


def test_one_alert_candidate_per_entity_its_top_session(spark):
    early, late = datetime(2015, 5, 17, 1), datetime(2015, 5, 17, 9)
    scores = spark.createDataFrame(
        [
            _score("1.1.1.1", 40, 80.0, session=0, start=early),
            _score("1.1.1.1", 9, 99.0, session=1, start=late),
            _score("2.2.2.2", 5, 97.0, session=0, start=early),
            _score("2.2.2.2", 7, 97.0, session=1, start=late),  # tie: the earlier session wins
        ],
        SCORES_SCHEMA,
    )

    got = top_session_per_entity(scores).select("entity", "session", "sessions", "score")

    assertDataFrameEqual(
        got, [("1.1.1.1", "1.1.1.1#1", 2, 99.0), ("2.2.2.2", "2.2.2.2#0", 2, 97.0)]
    )


def test_sample_requests_are_the_earliest_n_of_the_alerted_session(spark):
    alerts = spark.createDataFrame(
        [(e, DAY_START, DAY_END) for e in ("1.1.1.1", "2.2.2.2", "7.7.7.7")], SPAN
    )
    parsed = spark.createDataFrame(PARSED, PARSED_SCHEMA)

    got = with_sample_requests(alerts, parsed, 2, "client").select("entity", "sample_requests")

    assertDataFrameEqual(
        got,
        [
            (
                "1.1.1.1",
                [
                    '2015-05-17T10:00:10Z GET /a?id=1 200 "bot/1.0"',
                    '2015-05-17T10:00:20Z HEAD /robots.txt 200 "bot/1.0"',
                ],
            ),
            ("2.2.2.2", ['2015-05-17T10:00:05Z GET /x 200 "-"']),
            ("7.7.7.7", []),  # alerted but no rows in the interval
        ],
    )


def test_sample_requests_stay_inside_the_session(spark):
    alerts = spark.createDataFrame([("1.1.1.1", datetime(2015, 5, 17, 10, 0, 15), DAY_END)], SPAN)
    parsed = spark.createDataFrame(PARSED, PARSED_SCHEMA)

    got = with_sample_requests(alerts, parsed, 1, "client").first()

    assert got["sample_requests"] == ['2015-05-17T10:00:20Z HEAD /robots.txt 200 "bot/1.0"']


def test_sample_requests_use_the_client_user_agent_entity(spark):
    alerts = spark.createDataFrame([("2.2.2.2 | -", DAY_START, DAY_END)], SPAN)
    parsed = spark.createDataFrame(PARSED, PARSED_SCHEMA)

    got = with_sample_requests(alerts, parsed, 5, "client_user_agent").first()

    assert got["sample_requests"] == ['2015-05-17T10:00:05Z GET /x 200 "-"']


def test_records_are_json_with_a_readable_reason(spark):
    scores = top_session_per_entity(spark.createDataFrame(SCORES[:1], SCORES_SCHEMA))
    alerts = with_top_features(with_alert_id(candidates(scores, 95, 5), "uc", START, END), 2)
    alert_id = alerts.first()["alert_id"]

    (record,) = to_records(
        with_sample_requests(alerts, None, 0, "client"),
        {alert_id: Decision(RAISED)},
        "client",
        lambda score: "critical",
    )

    json.dumps(record, allow_nan=False)
    assert (
        record["reason"]
        == "score 99.5 >= 95: robots_txt=1 (median 0, p100), head_share=0.5 (median 0, p97)"
    )
    assert record["requests"] == 40 and record["sample_requests"] == []
    assert (record["status"], record["severity"], record["sessions"]) == ("raised", "critical", 1)
    assert record["session_start"] == "2015-05-17T00:00:00Z"
    assert record["top_features"][0] == {
        "feature": "robots_txt",
        "value": 1.0,
        "population_median": 0.0,
        "percentile": 100.0,
        "share": 0.6,
    }


# --- the stage, through main(), as the DAG runs it -------------------------------------------


def _setup(spark, tmp_path, alert=None):
    alert = alert or {"min_requests": 5, "top_features": 2, "sample_requests": 2}
    config = usecase_yaml(
        tmp_path, "alert_test", features=["robots_txt", "head_share"], threshold=95, alert=alert
    )
    return config, str(tmp_path / "lake")


def _write_interval(spark, lake_root, start, model="m1", scores=SCORES):
    scored = spark.createDataFrame(scores, SCORES_SCHEMA).withColumn("model_version", F.lit(model))
    for dataset, df in (
        ("scores", scored),
        ("parsed", spark.createDataFrame(PARSED, PARSED_SCHEMA)),
    ):
        path = layout.partition_path(lake_root, dataset, "alert_test", start)
        df.coalesce(1).write.mode("overwrite").parquet(path)


def _run(config, lake_root, start, end):
    assert alert.main(stage_args(config, start, end, lake_root)) == 0


def _outbox(lake_root, start):
    key = layout.interval_key(start)
    return outbox.read_outbox(outbox.LocalStore(), lake_root, "alert_test", key)


def _run_record(spark, lake_root, start):
    return run_record(spark, lake_root, "alert_test", start, "alert")


def test_rerun_of_an_interval_raises_the_same_alerts_once(spark, tmp_path, capsys):
    config, lake_root = _setup(spark, tmp_path)
    _write_interval(spark, lake_root, START)

    _run(config, lake_root, START, END)
    first = _outbox(lake_root, START)
    _run(config, lake_root, START, END)

    docs = _outbox(lake_root, START)
    assert [d["botwatch"]["entity"] for d in docs] == ["1.1.1.1", "2.2.2.2", "5.5.5.5"]
    assert docs == first  # byte-identical documents: no wall clock in them
    doc = docs[0]
    assert doc["source"] == {"ip": "1.1.1.1", "address": "1.1.1.1"}
    assert doc["event"]["start"] == "2015-05-17T00:00:00Z"
    assert doc["botwatch"]["model_version"] == "m1"
    assert doc["botwatch"]["sample_requests"][0].startswith("2015-05-17T10:00:10Z GET /a?id=1")
    stored = spark.read.parquet(layout.partition_path(lake_root, "alerts", "alert_test", START))
    assert sorted(r["status"] for r in stored.collect()) == ["raised"] * 3
    run = _run_record(spark, lake_root, START)
    assert (run["alerts"], run["suppressed"], run["outbox_alerts"]) == (3, 0, 3)
    assert run["top_reasons"][0].startswith("1.1.1.1: score 99.5 >= 95: robots_txt=1")
    summary = capsys.readouterr().err
    assert "botwatch alert ok  use case alert_test" in summary
    assert "  counts    candidates 3  alerts 3  suppressed 0  capped 0  outbox alerts 3" in summary


def test_consecutive_intervals_inside_the_realert_window_are_suppressed(spark, tmp_path):
    config, lake_root = _setup(
        spark, tmp_path, {"min_requests": 5, "sample_requests": 0, "realert_minutes": 2880}
    )
    days = [datetime(2015, 5, 17 + i, tzinfo=UTC) for i in range(4)]
    for day in days[:3]:
        _write_interval(spark, lake_root, day)

    for day in days[:3]:
        _run(config, lake_root, day, day + (END - START))

    assert len(_outbox(lake_root, days[0])) == 3
    assert _outbox(lake_root, days[1]) == []  # within 48 h of day 0's alerts
    assert len(_outbox(lake_root, days[2])) == 3  # day 0 is 48 h back: out of the window
    stored = spark.read.parquet(layout.partition_path(lake_root, "alerts", "alert_test", days[1]))
    reasons = {r["entity"]: (r["status"], r["suppression"]) for r in stored.collect()}
    assert reasons["1.1.1.1"][0] == "suppressed"
    assert reasons["1.1.1.1"][1].startswith("realert: alerted for interval 2015-05-17T00:00:00Z")
    run = _run_record(spark, lake_root, days[1])
    assert (run["alerts"], run["suppressed"]) == (0, 3)


def test_a_retrained_model_does_not_alert_twice_for_one_interval(spark, tmp_path):
    config, lake_root = _setup(spark, tmp_path, {"min_requests": 5, "sample_requests": 0})
    _write_interval(spark, lake_root, START, model="m1")
    _run(config, lake_root, START, END)
    _write_interval(spark, lake_root, START, model="m2")

    _run(config, lake_root, START, END)

    docs = _outbox(lake_root, START)
    assert {d["botwatch"]["model_version"] for d in docs} == {"m1"}  # m1's alerts are kept
    stored = spark.read.parquet(layout.partition_path(lake_root, "alerts", "alert_test", START))
    assert {r["status"] for r in stored.collect()} == {"suppressed"}
    assert "already alerted for this interval by model m1" in stored.first()["suppression"]


def test_allowlisted_entities_are_recorded_as_suppressed_with_the_reason(spark, tmp_path):
    allowlist = [{"cidr": "1.1.1.0/24", "reason": "office NAT"}]
    config, lake_root = _setup(
        spark,
        tmp_path,
        {"min_requests": 5, "sample_requests": 0, "max_alerts": 1, "allowlist": allowlist},
    )
    _write_interval(spark, lake_root, START)

    _run(config, lake_root, START, END)

    # 1.1.1.1 is allowlisted, so the single alert slot goes to the next entity.
    assert [d["botwatch"]["entity"] for d in _outbox(lake_root, START)] == ["2.2.2.2"]
    run = _run_record(spark, lake_root, START)
    assert (run["alerts"], run["suppressed"], run["capped"]) == (1, 1, 1)
    assert run["suppressions"] == ["1.1.1.1: allowlist: office NAT (cidr 1.1.1.0/24)"]
    report = (tmp_path / "lake").joinpath(
        "reports", "use_case=alert_test", f"interval={layout.interval_key(START)}", "report.html"
    )
    assert "office NAT" in report.read_text(encoding="utf-8")


def test_entities_outside_when_are_counted_never_alerted(spark, tmp_path):
    config = usecase_yaml(
        tmp_path,
        "alert_test",
        features=["robots_txt", "head_share"],
        threshold=95,
        when="requests >= 45 and not declared_crawler",
        alert={"min_requests": 5, "top_features": 2, "sample_requests": 0},
    )
    lake_root = str(tmp_path / "lake")
    _write_interval(spark, lake_root, START)

    _run(config, lake_root, START, END)

    (doc,) = _outbox(lake_root, START)  # 1.1.1.1 (40 requests) and 5.5.5.5 (6) are out
    assert doc["botwatch"]["entity"] == "2.2.2.2"
    assert doc["botwatch"]["reason"].endswith(
        "; in scope: requests >= 45 and not declared_crawler (requests=50, declared_crawler=false)"
    )
    run = _run_record(spark, lake_root, START)
    assert (run["candidates"], run["alerts"], run["scoped_out"]) == (1, 1, 2)


def test_an_entitys_best_session_in_scope_is_the_one_alerted(spark):
    scores = spark.createDataFrame(
        [_score("1.1.1.1", 8, 99.0, session=0), _score("1.1.1.1", 60, 96.0, session=1)],
        SCORES_SCHEMA,
    )
    scoped = with_scope(scores, parse("requests >= 45"))

    got = candidates(top_session_per_entity(scoped), 95, 5).select("session", "sessions")

    assertDataFrameEqual(got, [("1.1.1.1#1", 2)])
