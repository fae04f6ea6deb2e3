"""``model.kind: pretrained``: the shipped model scores in Spark as it does in numpy, and blends."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from spark_jobs.config.model import ModelConfig
from spark_jobs.models.general import pretrained, registry
from spark_jobs.models.kinds import model_kind


def test_the_local_weight_grows_with_the_smaller_class():
    cfg = ModelConfig(kind="pretrained", blend_min_labels=50, blend_half_at=500)
    assert pretrained.blend_weight(49, cfg) == 0.0
    assert pretrained.blend_weight(500, cfg) == pytest.approx(0.5)
    assert pretrained.blend_weight(4500, cfg) == pytest.approx(0.9)


def test_an_unknown_shipped_model_is_a_config_error_naming_the_shipped_ones():
    with pytest.raises(ValueError, match="no shipped general model 'nope'; shipped: general-v1"):
        ModelConfig(kind="pretrained", pretrained="nope")


def _sessions(spark, n: int = 40):
    """Sessions with every feature of the shipped model: a spread of made-up values."""
    features = registry.load().features
    rows = [
        (
            f"s{i}",
            float(i % 2),
            *[float((i * (j + 3)) % 17) / (1 + j % 5) for j in range(len(features))],
        )
        for i in range(n)
    ]
    return spark.createDataFrame(rows, ["session", "declared_crawler", *features])


@pytest.mark.spark
def test_without_labels_the_score_is_the_general_models_probability(spark):
    df = _sessions(spark)
    cfg = ModelConfig(kind="pretrained")
    model = model_kind("pretrained").fit(df, list(registry.load().features[:2]), cfg)
    scored = model.score(df).orderBy("session").collect()
    forest = registry.load()
    local = df.orderBy("session").toPandas()
    p, _ = forest.predict(forest.matrix({f: local[f] for f in forest.features}))
    assert [r["score"] for r in scored] == pytest.approx(list(100 * p), abs=1e-9)
    assert scored[0]["details"]["local_weight"] == 0.0
    assert len(scored[0]["contributions"]) == len(forest.features)


@pytest.mark.spark
def test_with_enough_weak_labels_a_local_model_is_blended_in(spark, tmp_path):
    df = _sessions(spark, 60)
    cfg = ModelConfig(kind="pretrained", weak_labels=True, algorithm="logistic_regression",
                      blend_min_labels=10, blend_half_at=30)  # fmt: skip
    kind = model_kind("pretrained")
    model = kind.fit(df, list(registry.load().features[:2]), cfg)
    assert model.params["local_weight"] == pytest.approx(30 / 60)
    model.save(spark, str(tmp_path / "m"))
    again = kind.load(spark, str(tmp_path / "m"))
    row = again.score(df).where(F.col("session") == "s3").first()
    general, local = row["details"]["general_probability"], row["details"]["local_probability"]
    assert row["score"] == pytest.approx(100 * (0.5 * general + 0.5 * local))


@pytest.mark.spark
def test_an_ensemble_fit_on_humans_only_sees_what_the_general_model_calls_human(spark):
    df = _sessions(spark)
    humans = pretrained.judged_human(df, registry.DEFAULT_MODEL)
    forest = registry.load()
    local = df.toPandas()
    p, _ = forest.predict(forest.matrix({f: local[f] for f in forest.features}))
    assert humans.count() == int((p < 0.5).sum())
    assert humans.columns == df.columns
