"""Supervised model: ranking, calibrated 0-100 scores, class weights, explanations, persistence."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap

import pytest
from pyspark.testing import assertDataFrameEqual

from spark_jobs.config.model import ModelConfig
from spark_jobs.errors import StageFailed
from spark_jobs.models.supervised import classifier
from spark_jobs.models.supervised.training import ISOTONIC, PRIOR_SHIFT

FEATURES = ["requests", "iat_mean", "static_share"]
SCHEMA = (
    "entity string, session string, declared_crawler double, "
    "requests double, iat_mean double, static_share double, label double"
)


def _rows(bots: int, humans: int, seed: int = 7) -> list[tuple]:
    """Bots make 200-400 requests, humans 5-40; the other two features are noise (some null)."""
    rng = random.Random(seed)
    rows = []
    for i in range(bots + humans):
        bot = i < bots
        requests = rng.uniform(200, 400) if bot else rng.uniform(5, 40)
        iat = None if i % 7 == 3 else rng.uniform(1, 20)
        name = f"{'b' if bot else 'h'}{i}"
        rows.append((name, name, 0.0, requests, iat, rng.uniform(0, 1), 1.0 if bot else 0.0))
    return rows


def _cfg(algorithm: str) -> ModelConfig:
    return ModelConfig(kind="supervised", algorithm=algorithm, weak_labels=True, max_iter=5)


@pytest.fixture(scope="module")
def balanced(spark):
    return spark.createDataFrame(_rows(30, 30), SCHEMA).cache()


@pytest.fixture(scope="module")
def fitted(balanced):
    """One model per algorithm, fitted once for the module (fits dominate the run time)."""
    cache = {}

    def get(algorithm: str):
        if algorithm not in cache:
            cache[algorithm] = classifier.fit(balanced, FEATURES, _cfg(algorithm))
        return cache[algorithm]

    return get


def _check_ranks_and_range(scored) -> None:
    raw = scored["details"]["probability"].alias("probability")
    rows = scored.select("label", raw, "score").collect()
    assert all(0.0 <= r["score"] <= 100.0 for r in rows)
    assert all(0.0 <= r["probability"] <= 1.0 for r in rows)
    assert min(r["score"] for r in rows if r["label"] == 1.0) > max(
        r["score"] for r in rows if r["label"] == 0.0
    )
    by_raw = sorted(rows, key=lambda r: r["probability"])
    for lo, hi in zip(by_raw, by_raw[1:], strict=False):
        assert lo["score"] <= hi["score"]
        if hi["probability"] > lo["probability"]:
            assert hi["score"] > lo["score"]


@pytest.mark.parametrize("algorithm", ["gbt", "random_forest", "logistic_regression"])
def test_each_algorithm_ranks_bots_above_humans(balanced, fitted, algorithm):
    model = fitted(algorithm)
    assert model.params["calibration"]["method"] == ISOTONIC
    assert model.metrics["train_roc_auc"] == 1.0
    assert model.metrics["oof_roc_auc"] > 0.9
    # Spark's trapezoidal PR area, named apart from eval's average precision.
    assert 0.9 < model.metrics["oof_pr_auc_trapezoid"] <= 1.0
    assert model.metrics["train_pr_auc_trapezoid"] == pytest.approx(1.0)
    assert not {"oof_pr_auc", "train_pr_auc"} & set(model.metrics)
    assert (model.metrics["positives"], model.metrics["negatives"]) == (30, 30)
    json.dumps([model.params, model.metrics])  # JSON-serialisable

    scored = model.score(balanced)
    assert set(scored.columns) == set(balanced.columns) | {"score", "details", "contributions"}
    assert dict(scored.dtypes)["score"] == "double"
    assert dict(scored.dtypes)["details"] == "map<string,double>"
    assert scored.count() == 60  # rows with null features are scored too
    _check_ranks_and_range(scored)

    bots = scored.where("label = 1.0").select("contributions").collect()
    assert all(r["contributions"][0]["feature"] == "requests" for r in bots)
    assert all(abs(sum(c["share"] for c in r["contributions"]) - 1.0) < 1e-9 for r in bots)


def test_class_weights_find_a_one_in_ten_minority(spark):
    df = spark.createDataFrame(_rows(8, 80, seed=11), SCHEMA)
    model = classifier.fit(df, FEATURES, _cfg("gbt"))
    # too few bots for out-of-fold calibration: the documented fallback
    assert model.params["calibration"] == {"method": PRIOR_SHIFT, "prevalence": 8 / 88}
    assert model.metrics["oof_roc_auc"] is model.metrics["oof_pr_auc_trapezoid"] is None
    assert model.params["class_weights"]["positive"] == pytest.approx(88 / 16)
    scored = model.score(df)
    _check_ranks_and_range(scored)
    bots = scored.where("label = 1.0").collect()
    assert all(
        r["details"]["probability"] > 0.5 for r in bots
    )  # the weighted classifier calls them bots
    top = scored.orderBy("score", ascending=False).limit(8).collect()
    assert {r["entity"] for r in top} == {r["entity"] for r in bots}


def test_calibration_undoes_the_class_weights(spark):
    """Overlapping classes at 25 % prevalence: balanced weights pull raw probabilities towards
    50 %, the out-of-fold isotonic map brings the mean score back near the real bot share."""
    rng = random.Random(5)
    rows = []
    for i in range(160):
        bot = i < 40
        requests = rng.uniform(30, 400) if bot else rng.uniform(5, 60)
        rows.append((f"e{i}", f"e{i}", 0.0, requests, rng.uniform(1, 20), rng.random(), float(bot)))
    df = spark.createDataFrame(rows, SCHEMA)
    model = classifier.fit(df, FEATURES, _cfg("logistic_regression"))
    assert model.params["calibration"]["method"] == ISOTONIC
    means = model.score(df).selectExpr("avg(score)", "avg(details.probability) AS p").first()
    assert means["p"] > 0.3
    assert abs(means["avg(score)"] - 25.0) < 5.0


def test_one_class_only_fails_naming_the_counts(spark):
    df = spark.createDataFrame(_rows(0, 20), SCHEMA)
    with pytest.raises(StageFailed, match="0 positive"):
        classifier.fit(df, FEATURES, _cfg("gbt"))


def test_save_and_load_round_trip(spark, balanced, fitted, tmp_path):
    model = fitted("gbt")
    path = str(tmp_path / "model")
    model.save(spark, path)
    model.save(spark, path)  # overwrites
    loaded = classifier.load(spark, path)
    assert (loaded.features, loaded.params, loaded.metrics) == (
        model.features,
        model.params,
        model.metrics,
    )
    assertDataFrameEqual(loaded.score(balanced), model.score(balanced))


def test_fresh_process_scores_like_this_one(spark, balanced, fitted, tmp_path):
    model = fitted("random_forest")
    model_path, data_path, out_path = (str(tmp_path / n) for n in ("model", "in", "out"))
    model.save(spark, model_path)
    balanced.write.parquet(data_path)
    script = textwrap.dedent(
        f"""
        from spark_jobs.models.supervised import classifier
        from spark_jobs.session import spark_session
        spark = spark_session("fresh-process", "test")  # the run's server, or classic
        model = classifier.load(spark, {model_path!r})
        model.score(spark.read.parquet({data_path!r})).write.parquet({out_path!r})
        spark.stop()
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    expected = model.score(spark.read.parquet(data_path))
    assertDataFrameEqual(spark.read.parquet(out_path), expected)
