"""feature -> train -> score through the stages' main() on a tmp lake: the model registry's
versions, champion and freshness, backfills, a supervised model from a label file, and a model
loaded in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from pyspark.sql import functions as F

from spark_jobs import feature, score, train
from spark_jobs.lake import layout, storage
from spark_jobs.models import registry

USE_CASE = "bots_roundtrip"
DAYS = [datetime(2015, 5, 1, tzinfo=UTC), datetime(2015, 5, 16, tzinfo=UTC), datetime(2015, 5, 17, tzinfo=UTC)]  # fmt: skip
MODEL_FEATURES = [
    "requests",
    "distinct_path_ratio",
    "status_4xx_share",
    "no_referrer_share",
    "iat_mean",
]
PARSED_SCHEMA = (
    "ts timestamp, ts_offset string, client string, ident string, auth_user string, "
    "method string, path string, query string, protocol string, request string, status int, "
    "bytes long, referrer string, user_agent string, source_file string"
)

CONFIG = f"""
id: {USE_CASE}
description: round trip test
start_date: 2015-05-01
source:
  path: unused/*.log
entity:
  key: client
features: [{", ".join(MODEL_FEATURES)}]
model:
  k: 3
  max_iter: 10
  training_window_days: 7
  retrain_every_days: 1
spark:
  spark.sql.shuffle.partitions: "2"
"""


def _parsed_rows(day: datetime, rng: np.random.Generator) -> list[tuple]:
    """Ten browsing clients with varied pace, and two crawlers: fast, no referrer, many 404s."""
    rows = []
    for c in range(12):
        bot = c >= 10
        n = int(rng.integers(40, 60)) if bot else int(rng.integers(3, 15))
        ts = day + timedelta(hours=int(rng.integers(0, 20)))
        for i in range(n):
            ts += timedelta(seconds=float(rng.uniform(0.2, 1.0) if bot else rng.uniform(5, 120)))
            path = f"/p{i}" if bot else f"/p{int(rng.integers(0, 4))}"
            status = 404 if bot and i % 3 == 0 else 200
            referrer = None if bot else "http://example.org/"
            rows.append((ts, "+0000", f"10.0.0.{c}", "-", "-", "GET", path, None, "HTTP/1.1",
                         f"GET {path} HTTP/1.1", status, int(rng.integers(100, 5000)), referrer,
                         "crawler/1.0" if bot else "Mozilla/5.0", "t.log"))  # fmt: skip
    return rows


def _args(config, lake_root, day: datetime) -> list[str]:
    end = day + timedelta(days=1)
    return ["--config", str(config), "--start", day.isoformat(), "--end", end.isoformat(),
            "--lake", str(lake_root)]  # fmt: skip


@pytest.fixture(scope="module")
def roundtrip(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("roundtrip")
    config, root = tmp / f"{USE_CASE}.yaml", str(tmp / "lake")
    config.write_text(CONFIG)
    rng = np.random.default_rng(7)
    for day in DAYS:
        parsed = spark.createDataFrame(_parsed_rows(day, rng), PARSED_SCHEMA)
        parsed.write.parquet(layout.partition_path(root, "parsed", USE_CASE, day))
        assert feature.main(_args(config, root, day)) == 0
    last = DAYS[-1]
    codes = (train.main(_args(config, root, last)), score.main(_args(config, root, last)))
    return {"config": config, "root": root, "day": last, "codes": codes, "tmp": tmp}


def _record(spark, root, day, stage):
    key = layout.interval_key(day)
    return storage.read_json(spark, f"{root}/runs/use_case={USE_CASE}/interval={key}/{stage}.json")


def _scores(spark, root, day):
    return spark.read.parquet(layout.partition_path(root, "scores", USE_CASE, day))


def test_stages_succeed_and_record_their_runs(spark, roundtrip):
    root, day = roundtrip["root"], roundtrip["day"]
    assert roundtrip["codes"] == (0, 0)
    feature_run = _record(spark, root, day, "feature")
    assert feature_run["sessions"] == 12 and feature_run["entities"] == 12
    trained = _record(spark, root, day, "train")
    assert trained["skipped"] is False and trained["intervals"] == 2
    assert trained["model_version"].startswith("unsupervised-ensemble-20150517T000000Z-")
    record = _record(spark, root, day, "score")
    assert record["sessions"] == 12 and record["model_version"] == trained["model_version"]
    assert 0.0 <= record["p50"] <= record["p90"] <= record["p99"] <= record["max"] <= 100.0


def test_registry_keeps_the_version_with_its_window_and_makes_it_champion(spark, roundtrip):
    root, day = roundtrip["root"], roundtrip["day"]
    version = _record(spark, root, day, "train")["model_version"]
    champ = registry.champion(spark, root, USE_CASE, day + timedelta(days=1))
    assert champ is not None and champ.version == version
    meta = registry.read_metadata(spark, root, USE_CASE, version)
    assert meta["intervals"] == ["20150516T000000Z", "20150517T000000Z"]
    assert meta["window_start"] == "2015-05-11T00:00:00+00:00"
    assert meta["features"] == MODEL_FEATURES and meta["kind"] == "unsupervised"
    assert meta["training_metrics"]["rows"] == 24


def test_scores_have_the_contract_columns(spark, roundtrip):
    scores = _scores(spark, roundtrip["root"], roundtrip["day"])
    assert scores.columns[-len(score.SCORE_COLUMNS) :] == list(score.SCORE_COLUMNS)
    assert dict(scores.dtypes)["requests"] == "double"
    assert dict(scores.dtypes)["details"] == "map<string,double>"
    rows = scores.collect()
    assert len(rows) == 12
    for r in rows:
        assert 0.0 <= r["score"] <= 100.0 and r["model_kind"] == "unsupervised"
        assert {c["feature"] for c in r["contributions"]} == set(MODEL_FEATURES)
    assert set(rows[0]["details"]) == {"kmeans", "bisecting_kmeans", "gmm", "robust_z"}
    # The two crawlers (fast, no referrer, 404s) are the sessions furthest from the population
    # median. (The clustering members may give 4 crawlers out of 24 training sessions a
    # cluster of their own: when bots are that common, they are not outliers to a clustering.)
    top = sorted(rows, key=lambda r: -r["details"]["robust_z"])[:2]
    assert {r["client"] for r in top} == {"10.0.0.10", "10.0.0.11"}


def test_rerun_skips_a_fresh_model_and_next_day_retrains(spark, roundtrip, capsys):
    config, root, day = roundtrip["config"], roundtrip["root"], roundtrip["day"]
    first = _record(spark, root, day, "train")["model_version"]
    capsys.readouterr()
    assert train.main(_args(config, root, day)) == 0
    rerun = _record(spark, root, day, "train")
    assert rerun["skipped"] is True and rerun["model_version"] == first
    assert f"botwatch train ok  use case {USE_CASE}\n" in capsys.readouterr().err
    # A backfill of an earlier day trains its own model; scoring that day uses it, not the
    # later one that has seen the future.
    earlier = DAYS[1]
    assert score.main(_args(config, root, earlier)) == 1  # no model ending by then yet
    failed = capsys.readouterr().err
    assert f"botwatch score FAILED  use case {USE_CASE}\n  FAILED: no model of" in failed
    assert train.main(_args(config, root, earlier)) == 0
    assert score.main(_args(config, root, earlier)) == 0
    backfilled = _record(spark, root, earlier, "train")["model_version"]
    assert backfilled != first and backfilled.startswith("unsupervised-ensemble-20150516")
    assert _record(spark, root, earlier, "score")["model_version"] == backfilled
    assert registry.champion(spark, root, USE_CASE, day + timedelta(days=1)).version == first


def test_champion_loads_and_scores_the_same_in_a_fresh_process(spark, roundtrip):
    root, day = roundtrip["root"], roundtrip["day"]
    version = _record(spark, root, day, "train")["model_version"]
    features = layout.partition_path(root, "features", USE_CASE, day)
    code = (
        "import sys\n"
        "from spark_jobs.models import registry\n"
        "from spark_jobs.session import spark_session\n"
        "spark = spark_session('fresh-process', 'test')\n"
        "model, meta = registry.load_model(spark, sys.argv[1], sys.argv[2], sys.argv[3])\n"
        "rows = model.score(spark.read.parquet(sys.argv[4])).select('session', 'score').collect()\n"
        "print('RESULT', sorted((r['session'], round(r['score'], 9)) for r in rows))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, root, USE_CASE, version, features],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    ours = _scores(spark, root, day).select("session", "score").collect()
    assert result == "RESULT " + str(sorted((r["session"], round(r["score"], 9)) for r in ours))


def test_supervised_model_from_a_label_file(spark, roundtrip):
    """The label file names the two crawlers (by client); train fits GBT on the labelled
    sessions of the window and score ranks the crawlers first, as calibrated probabilities."""
    tmp, root, day = roundtrip["tmp"], roundtrip["root"], roundtrip["day"]
    labels = tmp / "labels.csv"
    labels.write_text(
        "key,label\n" + "".join(f"10.0.0.{c},{'bot' if c >= 10 else 'human'}\n" for c in range(12))
    )
    config = tmp / f"{USE_CASE}.yaml"
    supervised = config.read_text().replace(
        "model:\n",
        f"model:\n  kind: supervised\n  algorithm: logistic_regression\n"
        f"  labels: {{path: '{labels}', match: entity}}\n",
    )
    config.write_text(supervised)
    assert train.main(_args(config, root, day)) == 0
    trained = _record(spark, root, day, "train")
    assert trained["skipped"] is False  # another config: the unsupervised champion is not fresh
    assert trained["model_version"].startswith("supervised-logistic_regression-")
    assert trained["labels"]["positives"] == 4 and trained["labels"]["negatives"] == 20
    # Spark's trapezoidal PR area, not eval's average precision: named apart.
    assert 0.0 <= trained["training_metrics"]["train_pr_auc_trapezoid"] <= 1.0
    assert score.main(_args(config, root, day)) == 0
    rows = _scores(spark, root, day).orderBy(F.col("score").desc()).collect()
    assert {r["client"] for r in rows[:2]} == {"10.0.0.10", "10.0.0.11"}
    assert all(0.0 <= r["score"] <= 100.0 and "probability" in r["details"] for r in rows)


def test_pretrained_general_model_scores_a_site_with_no_labels(spark, roundtrip):
    """``model.kind: pretrained``: train records the shipped model and this site's profile; score
    ranks the two crawlers (fast, no referrer, 404s) first with no label at all."""
    tmp, root, day = roundtrip["tmp"], roundtrip["root"], roundtrip["day"]
    config = tmp / f"{USE_CASE}.yaml"
    config.write_text(CONFIG.replace("model:\n  k: 3\n", "model:\n  kind: pretrained\n"))
    assert train.main(_args(config, root, day)) == 0
    trained = _record(spark, root, day, "train")
    assert trained["model_version"].startswith("pretrained-general-v1-")
    assert score.main(_args(config, root, day)) == 0
    rows = _scores(spark, root, day).orderBy(F.col("score").desc()).collect()
    assert {r["client"] for r in rows[:2]} == {"10.0.0.10", "10.0.0.11"}
    assert all(
        r["details"]["local_weight"] == 0.0 and r["model_kind"] == "pretrained" for r in rows
    )
    assert rows[0]["contributions"][0]["share"] > 0
