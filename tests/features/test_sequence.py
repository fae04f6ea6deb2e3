"""The per-row sequence columns on hand-made sessions: think times, assets, error runs, referrers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_jobs.features import sequence, sessions

T0 = datetime(2015, 5, 17, 1, 0, 0, tzinfo=UTC)
SCHEMA = "entity string, ts timestamp, path string, path_class string, status int"


def _sequenced(spark, rows, gap=30.0):
    """``with_time_sequence`` of (seconds after T0, path, path_class, status) rows of entity a."""
    data = [("a", T0 + timedelta(seconds=s), p, c, st) for s, p, c, st in rows]
    df = sessions.with_sessions(spark.createDataFrame(data, SCHEMA), gap)
    return sequence.with_time_sequence(df)


def test_think_times_and_assets_after_pages(spark):
    rows = [
        (0, "/", "page", 304),
        # The same instant: by status, the style sheet comes before the page in the window.
        (0, "/style.css", "static", 200),
        (1, "/app.js", "static", 200),
        (30, "/next", "page", 200),  # 30 s after the last page; an image exactly 10 s later
        (40, "/img.png", "static", 200),
        (45, "/third", "page", 200),  # the next static comes 11 s later: too late
        (56, "/late.png", "static", 200),
        (45 * 60, "/later", "page", 200),  # a new session: no previous page in it
    ]
    out = _sequenced(spark, rows).select("path", "page_think", "assets_followed")
    expected = spark.createDataFrame(
        [
            ("/", None, 1.0),
            ("/style.css", None, None),
            ("/app.js", None, None),
            ("/next", 30.0, 1.0),
            ("/img.png", None, None),
            ("/third", 15.0, 0.0),
            ("/late.png", None, None),
            ("/later", None, 0.0),
        ],
        "path string, page_think double, assets_followed double",
    )
    assertDataFrameEqual(out, expected)


def test_time_sequence_columns_on_one_session(spark):
    rows = [(0, "/a", "page", 200), (3, "/b", "static", 200), (20, "/c", "page", 404),
            (21, "/d", "page", 500), (40, "/e", "static", 200), (41, "/f", "page", 404)]  # fmt: skip
    out = _sequenced(spark, rows).orderBy("ts").collect()
    assert [r["page_think"] for r in out] == [None, None, 20.0, 1.0, None, 20.0]
    # The page at 21 s is followed by the static at 40 s: 19 s, more than 10 s.
    assert [r["assets_followed"] for r in out] == [1.0, None, 0.0, 0.0, None, 0.0]
    assert [r["error_run"] for r in out] == [None, None, 1, 2, None, 1]


def test_neither_think_times_nor_assets_cross_a_session_boundary(spark):
    # A 6-second gap: the image 8 s after the page, and the page after it, are a new session.
    rows = [(0, "/", "page", 200), (8, "/a.png", "static", 200), (9, "/b", "page", 200)]
    out = _sequenced(spark, rows, gap=0.1).select("path", "page_think", "assets_followed")
    expected = spark.createDataFrame(
        [("/", None, 0.0), ("/a.png", None, None), ("/b", None, 0.0)],
        "path string, page_think double, assets_followed double",
    )
    assertDataFrameEqual(out, expected)


def test_error_runs_are_broken_by_a_success_and_by_a_new_session(spark):
    statuses = [(0, 404), (1, 404), (2, 404), (3, 200), (4, 404), (5, 500),
                (3000, 404), (3001, 403), (3002, None), (3003, 400)]  # fmt: skip
    rows = [(s, f"/{s}", "page", st) for s, st in statuses]
    out = _sequenced(spark, rows).select("path", "error_run")
    runs = [1, 2, 3, None, 1, 2, 1, 2, None, 1]  # 3000 starts a session; null is no error
    expected = spark.createDataFrame(
        [(f"/{s}", run) for (s, _), run in zip(statuses, runs, strict=True)],
        "path string, error_run int",
    )
    assertDataFrameEqual(out, expected)


def test_referrer_path(spark):
    cases = [
        ("http://shop.example/a/b.html?x=1#top", "/a/b.html"),
        ("https://user@shop.example:8443/", "/"),
        ("http://shop.example", "/"),
        ("http://shop.example?q=1", "/"),
        ("HTTP://SHOP.example/Case/Kept", "/Case/Kept"),
        ("-", None),
        ("/relative/only", None),
        (None, None),
    ]
    df = spark.createDataFrame(cases, "referrer string, expected string")
    out = df.select("expected", sequence.referrer_path(F.col("referrer")).alias("got"))
    assert [(r["got"], r["expected"]) for r in out.collect()] == [(e, e) for _, e in cases]


def test_referrer_fetched_counts_referrers_the_session_asked_for_before(spark):
    rows = [
        ("s1", 0, "/", None),
        ("s1", 0, "/a.css", "/"),  # the same instant as / itself: fetched
        ("s1", 5, "/about", "/"),  # fetched
        ("s1", 6, "/b.png", "/about"),  # fetched a second before
        ("s1", 7, "/c.png", "/never"),  # never fetched
        ("s1", 8, "/self", "/self"),  # only by itself: not fetched
        ("s1", 9, "/early", "/later"),  # fetched, but only afterwards
        ("s1", 10, "/later", None),
        ("s2", 100, "/x", "/"),  # / was fetched in the entity's other session only
    ]
    data = [("a", sess, T0 + timedelta(seconds=s), p, ref) for sess, s, p, ref in rows]
    df = spark.createDataFrame(data, "entity string, session string, ts timestamp, "
                                     "path string, ref_path string")  # fmt: skip
    out = sequence.with_referrer_fetched(df, "ref_path")
    assert out.columns == [*df.columns, "referrer_fetched"]
    expected = spark.createDataFrame(
        [(p, 3 if sess == "s1" else 0) for sess, _, p, _ in rows],
        "path string, referrer_fetched long",
    )
    assertDataFrameEqual(out.select("path", "referrer_fetched"), expected)
