"""Alert records from scores, the JSONL sink's once-only delivery, and the stage run twice."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from parsed_rows import PARSED_SCHEMA, parsed_row
from pyspark.testing import assertDataFrameEqual

from spark_jobs import alert, lake
from spark_jobs.alert_records import (
    select_alerts,
    to_records,
    top_session_per_entity,
    with_alert_id,
    with_sample_requests,
    with_top_features,
)

START, END = datetime(2015, 5, 17, tzinfo=UTC), datetime(2015, 5, 18, tzinfo=UTC)
CONTRIB = (
    "array<struct<feature: string, value: double, population_median: double, "
    "percentile: double, share: double>>"
)
SCORES_SCHEMA = (
    "entity string, session string, session_start timestamp, session_end timestamp, "
    "client string, user_agent string, requests double, robots_txt double, "
    f"head_share double, score double, model_version string, contributions {CONTRIB}"
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


def test_select_alerts_keeps_high_scores_with_enough_requests_worst_first(spark):
    scores = spark.createDataFrame(SCORES, SCORES_SCHEMA)

    got = select_alerts(scores, threshold=95.0, min_requests=5, max_alerts=2)

    assertDataFrameEqual(
        got.select("entity", "score", "threshold"),
        [("1.1.1.1", 99.5, 95.0), ("2.2.2.2", 97.0, 95.0)],
        checkRowOrder=True,
    )


def test_alert_id_is_sha256_of_use_case_entity_and_interval(spark):
    df = spark.createDataFrame([("1.1.1.1",)], "entity string")

    row = with_alert_id(df, "uc", START, END).first()
    other_day = with_alert_id(df, "uc", END, datetime(2015, 5, 19, tzinfo=UTC)).first()

    text = "uc|1.1.1.1|2015-05-17T00:00:00Z|2015-05-18T00:00:00Z"
    assert row["alert_id"] == hashlib.sha256(text.encode()).hexdigest()
    assert (row["interval_start"], row["interval_end"]) == (
        "2015-05-17T00:00:00Z",
        "2015-05-18T00:00:00Z",
    )
    assert other_day["alert_id"] != row["alert_id"]


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
    scores = spark.createDataFrame(SCORES[:1], SCORES_SCHEMA)
    alerts = with_top_features(with_alert_id(select_alerts(scores, 95, 5, 10), "uc", START, END), 2)

    (record,) = to_records(with_sample_requests(alerts, None, 0, "client"))

    json.dumps(record, allow_nan=False)
    assert (
        record["reason"]
        == "score 99.5 >= 95: robots_txt=1 (median 0, p100), head_share=0.5 (median 0, p97)"
    )
    assert record["requests"] == 40 and record["sample_requests"] == []
    assert record["top_features"][0] == {
        "feature": "robots_txt",
        "value": 1.0,
        "population_median": 0.0,
        "percentile": 100.0,
        "share": 0.6,
    }


def test_jsonl_sink_delivers_each_alert_once(tmp_path):
    path = tmp_path / "out" / "alerts.jsonl"
    first = [{"alert_id": "a", "score": 99.0}, {"alert_id": "b", "score": 98.0}]

    assert alert.deliver_jsonl(first, path) == 2
    assert alert.deliver_jsonl(first, path) == 0
    assert alert.deliver_jsonl([*first, {"alert_id": "c", "score": 97.0}], path) == 1

    ids = [json.loads(line)["alert_id"] for line in path.read_text().splitlines()]
    assert ids == ["a", "b", "c"]
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_alert_main_twice_writes_parquet_and_no_duplicate_lines(spark, tmp_path):
    config = tmp_path / "alert_test.yaml"
    config.write_text(
        "id: alert_test\n"
        "description: alert stage test\n"
        "start_date: 2015-05-17\n"
        "source: {path: /nonexistent/*.log}\n"
        "features: [robots_txt, head_share]\n"
        "threshold: 95\n"
        "alert: {min_requests: 5, top_features: 2, sample_requests: 2}\n",
        encoding="utf-8",
    )
    lake_root = str(tmp_path / "lake")
    for dataset, rows, schema in (
        ("scores", SCORES, SCORES_SCHEMA),
        ("parsed", PARSED, PARSED_SCHEMA),
    ):
        path = lake.partition_path(lake_root, dataset, "alert_test", START)
        spark.createDataFrame(rows, schema).coalesce(1).write.parquet(path)
    argv = ["--config", str(config), "--start", START.isoformat(), "--end", END.isoformat()]

    assert alert.main([*argv, "--lake", lake_root]) == 0
    assert alert.main([*argv, "--lake", lake_root]) == 0

    lines = (tmp_path / "lake" / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(line)["entity"] for line in lines] == ["1.1.1.1", "2.2.2.2", "5.5.5.5"]
    stored = spark.read.parquet(lake.partition_path(lake_root, "alerts", "alert_test", START))
    assert stored.count() == 3
    run = lake.read_json(
        spark, f"{lake.partition_path(lake_root, 'runs', 'alert_test', START)}/alert.json"
    )
    assert (run["alerts"], run["delivered_new"]) == (3, 0)
    assert run["top_reasons"][0].startswith("1.1.1.1: score 99.5 >= 95: robots_txt=1")
