"""``model.calibration``: scores as percentiles of the training sessions or of each training
interval's most unusual session, on sessions drawn alike for every interval."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import functions as F

from spark_jobs.config.model import ModelConfig
from spark_jobs.errors import StageFailed
from spark_jobs.models.anomaly import calibration, ensemble

pytestmark = pytest.mark.spark

FEATURES = ["requests", "bytes_mean"]
SCHEMA = "entity string, interval string, requests double, bytes_mean double"
SESSIONS_PER_INTERVAL = 40


def _intervals(first_day: int, days: int, seed: int) -> list[tuple]:
    """``days`` intervals of the same kind of traffic (log-normal volume and size)."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(first_day, first_day + days):
        values = np.exp(rng.normal((2.0, 8.0), 0.5, size=(SESSIONS_PER_INTERVAL, 2)))
        key = f"201505{day:02d}T000000Z"
        rows += [(f"{key}-{i}", key, float(r), float(b)) for i, (r, b) in enumerate(values)]
    return rows


def _fit(spark, calibration: str):
    train = spark.createDataFrame(_intervals(1, 6, seed=3), SCHEMA)
    cfg = ModelConfig(members=["robust_z", "kmeans"], k=2, calibration=calibration)
    return ensemble.fit(train, FEATURES, cfg)


def test_interval_max_lets_quiet_intervals_pass_without_an_alert(spark):
    quiet = spark.createDataFrame(_intervals(7, 10, seed=11), SCHEMA)  # 10 more days alike
    by_session = _fit(spark, "sessions").score(quiet).select("entity", F.col("score").alias("s"))
    by_interval = _fit(spark, "interval_max").score(quiet).select("entity", "interval", "score")
    both = by_session.join(by_interval, "entity").collect()

    # Every training interval holds as many sessions: beating k of 6 interval maxima means
    # beating at least k/6 of the training sessions, so no score can rise.
    assert all(row["score"] <= row["s"] for row in both)
    quota = [row for row in both if row["s"] >= 95]
    bar = [row for row in both if row["score"] >= 95]
    assert len({row["interval"] for row in quota}) >= 5  # most days have their top 5 %
    assert len({row["interval"] for row in bar}) <= 3  # ~1 day in 7 beats all 6 maxima
    assert len(bar) * 4 <= len(quota)


def test_a_session_beyond_every_training_interval_scores_100(spark):
    model = _fit(spark, "interval_max")
    extreme = spark.createDataFrame([("x", "k", 5000.0, 9e6)], SCHEMA)
    assert model.score(extreme).first()["score"] == 100.0
    assert len(model.interval_maxima) == 6
    assert model.interval_maxima == sorted(model.interval_maxima)
    assert model.params["calibration"] == "interval_max"


def test_the_maxima_survive_save_and_load(spark, tmp_path):
    model = _fit(spark, "interval_max")
    model.save(spark, str(tmp_path / "m"))
    loaded = ensemble.load(spark, str(tmp_path / "m"))
    probe = spark.createDataFrame(_intervals(9, 1, seed=5), SCHEMA)
    assert loaded.interval_maxima == model.interval_maxima
    assert [r["score"] for r in loaded.score(probe).orderBy("entity").collect()] == [
        r["score"] for r in model.score(probe).orderBy("entity").collect()
    ]


def test_interval_max_without_the_interval_column_says_so(spark):
    train = spark.createDataFrame(_intervals(1, 2, seed=3), SCHEMA).drop("interval")
    cfg = ModelConfig(members=["robust_z"], calibration="interval_max")
    with pytest.raises(StageFailed, match="interval_max needs the training sessions' interval"):
        ensemble.fit(train, FEATURES, cfg)


def test_calibration_is_for_the_unsupervised_kind():
    with pytest.raises(ValueError, match="calibration: interval_max applies to the unsupervised"):
        ModelConfig(kind="supervised", weak_labels=True, calibration="interval_max")


def test_maxima_are_those_of_sessions_that_could_alert(spark):
    rows = _intervals(1, 6, seed=3)
    odd = [(f"odd{day}", f"201505{day:02d}T000000Z", 1.0, 9e6) for day in range(1, 7)]
    train = calibration.with_alertable(spark.createDataFrame(rows + odd, SCHEMA), 5)
    cfg = ModelConfig(members=["robust_z"], calibration="interval_max")
    every = ensemble.fit(train.drop(calibration.ALERTABLE), FEATURES, cfg).interval_maxima
    alertable = ensemble.fit(train, FEATURES, cfg).interval_maxima
    # A one-request oddity per day would set a bar that no session with 5+ requests reaches.
    assert max(alertable) < min(every)
