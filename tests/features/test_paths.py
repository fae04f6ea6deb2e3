"""The path rules have one home (``features.paths``): the enrichment's ``path_class`` and the
per-session resource shares must agree on every path, and no list may shadow another."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import functions as F

from spark_jobs.features import behaviour, enrichment, paths
from tests.features.test_enrichment import PATHS

T0 = datetime(2015, 5, 17, 1, 0, 0, tzinfo=UTC)
#: Paths that test where the lists meet: media, kinds of static, static names under probes.
EDGE_PATHS = [
    "/video/clip.mp4", "/audio/a.OGG", "/a.webm", "/img/b.avif", "/c.cur", "/app.js.map",
    "/lib.mjs", "/wp-admin/images/logo.png", "/api/icons/x.svg", "/a.css;v=1", "/f.woff",
    "/doc.pdf", "/archive.zip", "/page.html", "/robots.txt",
]  # fmt: skip


def test_the_kinds_of_static_are_static():
    kinds = (
        paths.IMAGE_EXTENSIONS, paths.STYLE_EXTENSIONS, paths.JS_EXTENSIONS,
        paths.FONT_EXTENSIONS, paths.MEDIA_EXTENSIONS,
    )  # fmt: skip
    for kind in kinds:
        assert set(kind) <= set(paths.STATIC_EXTENSIONS), kind
    assert {"mp3", "mp4", "webm"} <= set(paths.STATIC_EXTENSIONS)  # audio and video are assets


def test_no_static_extension_is_shadowed_by_an_earlier_rule():
    # Rules apply in order: a static extension that is also sensitive or api would never be
    # static, and the static list would say otherwise.
    earlier = set(paths.SENSITIVE_EXTENSIONS) | set(paths.API_EXTENSIONS)
    assert not earlier & set(paths.STATIC_EXTENSIONS)
    assert len(set(paths.STATIC_EXTENSIONS)) == len(paths.STATIC_EXTENSIONS)


def test_a_path_is_static_iff_it_counts_in_static_share(spark):
    all_paths = [p for p, _, _ in PATHS if p is not None] + EDGE_PATHS
    # One client (so one session) per path.
    rows = [
        (T0 + timedelta(seconds=i), f"10.0.{i // 250}.{i % 250}", "GET", path, 200)
        for i, path in enumerate(all_paths)
    ]
    df = spark.createDataFrame(
        rows, "ts timestamp, client string, method string, path string, status int"
    )
    df = df.withColumns(
        {n: F.lit(None).cast("string") for n in ("query", "referrer", "user_agent")}
    )
    df = df.withColumn("bytes", F.lit(10).cast("long"))
    classes = {r["client"]: r["path_class"] for r in enrichment.with_path_class(df).collect()}
    shares = behaviour.session_features(df, "client", "UTC", 30.0).collect()

    assert len(shares) == len(all_paths)
    assert set(classes.values()) <= set(paths.PATH_CLASSES)
    for s in shares:
        static = classes[s["client"]] == "static"
        assert s["static_share"] == (1.0 if static else 0.0), (s["client"], classes[s["client"]])
        kinds = s["image_share"] + s["css_share"] + s["js_share"]
        assert kinds <= s["static_share"], s["client"]
    by_path = dict(zip(all_paths, (classes[r[1]] for r in rows), strict=True))
    assert by_path["/video/clip.mp4"] == by_path["/audio/a.OGG"] == "static"
    assert by_path["/wp-admin/images/logo.png"] == "sensitive"
    assert by_path["/doc.pdf"] == "page"


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        (paths.SENSITIVE_NAME_PATTERN, "/blog/wp-login.php", True),
        (paths.SENSITIVE_NAME_PATTERN, "/administration-guide.html", False),
        (paths.API_NAME_PATTERN, "/api/v1", True),
        (paths.HIDDEN_PATTERN, "/.well-known/x", False),
        (paths.HIDDEN_PATTERN, "/.git/config", True),
    ],
)
def test_patterns_read_as_documented(pattern, path, hit):
    assert bool(re.search(pattern, path)) is hit
