"""The anomaly ensemble against numpy hand computations on tiny, well-separated examples."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from pyspark.ml import PipelineModel

from spark_jobs.config.model import ModelConfig
from spark_jobs.errors import StageFailed
from spark_jobs.models import explain
from spark_jobs.models.anomaly import ensemble, gmm
from spark_jobs.models.anomaly.sql import with_percentile
from tests.support.paths import REPO

FEATURES = ["requests", "bytes", "iat_mean"]
MEMBERS = ["kmeans", "bisecting_kmeans", "gmm", "robust_z"]
SCHEMA = "entity string, requests double, bytes double, iat_mean double"
CFG = ModelConfig(k=2, max_iter=20, seed=1)


def _groups() -> list[tuple]:
    """Two tight, well separated groups of sessions: few slow small requests, many fast big."""
    rng = np.random.default_rng(7)
    rows = []
    for name, centre in (("slow", (8.0, 3000.0, 3.0)), ("fast", (150.0, 30000.0, 0.3))):
        values = np.exp(np.log(centre) + rng.normal(0.0, 0.25, size=(25, 3)))
        rows += [(f"{name}{i:02d}", *map(float, v)) for i, v in enumerate(values)]
    return rows


ROWS = _groups()
RAW = np.array([r[1:] for r in ROWS])


def _standardise(raw: np.ndarray) -> np.ndarray:
    """Preprocessing as the model defines it: log1p (null/negative -> 0), then z-scores with the
    sample std of the training rows."""
    train = np.log1p(RAW)
    logs = np.log1p(np.clip(np.nan_to_num(raw, nan=0.0), 0.0, None))
    return (logs - train.mean(axis=0)) / train.std(axis=0, ddof=1)


def _member(model, name):
    return next(m for m in model.members if m.name == name)


def _hand_terms(model, raw: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each member's (raw measure, per-feature terms) in numpy, from the fitted parameters."""
    z = _standardise(raw)
    out = {}
    for name in ("kmeans", "bisecting_kmeans"):
        centres = np.array(_member(model, name).centres)
        d2 = ((z[:, None, :] - centres[None]) ** 2).sum(axis=2)
        nearest = centres[np.argmin(d2, axis=1)]
        out[name] = (np.sqrt(d2.min(axis=1)), (z - nearest) ** 2)
    mixture = _member(model, "gmm").model
    log_parts, deviations = [], []
    for w, g in zip(mixture.weights, mixture.gaussians, strict=True):
        mean, cov = g.mean.toArray(), g.cov.toArray() + gmm.REG_COVAR * np.eye(3)
        diff = z - mean
        quad = np.einsum("ij,ij->i", diff, np.linalg.solve(cov, diff.T).T)
        log_det = np.linalg.slogdet(cov)[1]
        log_parts.append(math.log(w) - 0.5 * (quad + log_det + 3 * math.log(2 * math.pi)))
        deviations.append(diff**2 / np.diag(cov))
    log_parts = np.array(log_parts)
    top = log_parts.max(axis=0)
    nll = -(top + np.log(np.exp(log_parts - top).sum(axis=0)))
    out["gmm"] = (nll, np.array(deviations)[np.argmax(log_parts, axis=0), np.arange(len(z))])
    robust = _member(model, "robust_z")
    logs = np.log1p(np.clip(np.nan_to_num(raw, nan=0.0), 0.0, None))
    zr = (logs - robust.medians) / robust.scales
    out["robust_z"] = (np.sqrt((zr**2).mean(axis=1)), zr**2)
    return out


@pytest.fixture(scope="module")
def train_df(spark):
    return spark.createDataFrame(ROWS, SCHEMA)


@pytest.fixture(scope="module")
def model(train_df):
    return ensemble.fit(train_df, FEATURES, CFG)


@pytest.fixture(scope="module")
def probes(spark):
    """Sessions to score: typical, an outlier on one feature, and a ray moving ever further
    from both groups (longer gaps between slower requests)."""
    rows = [("typical", 8.0, 3000.0, 3.0), ("huge_bytes", 8.0, 3.0e7, 3.0)]
    rows += [(f"ray{i}", 8.0 / f, 3000.0, 3.0 * f) for i, f in enumerate((1, 2, 5, 20, 100, 1e4))]
    rows += [("nulls", None, -5.0, None)]
    return spark.createDataFrame(rows, SCHEMA)


@pytest.fixture(scope="module")
def scored(model, train_df, probes):
    rows = model.score(train_df.unionByName(probes)).collect()
    return {r["entity"]: r for r in rows}


def test_output_keeps_the_input_and_adds_three_columns(model, train_df):
    out = model.score(train_df)
    assert out.columns == [*train_df.columns, "score", "details", "contributions"]
    types = {f.name: f.dataType.simpleString() for f in out.schema.fields}
    assert types["score"] == "double"
    assert types["details"] == "map<string,double>"
    assert types["contributions"] == explain.CONTRIBUTIONS_TYPE.replace(" ", "")
    assert model.params["members"] == MEMBERS and model.params["k"] == 2
    assert (model.metrics["rows"], model.metrics["distinct_rows"]) == (50, 50)
    assert json.loads(json.dumps([model.params, model.metrics])) == [model.params, model.metrics]


def test_raw_measures_match_numpy(model, train_df, probes):
    # Clustering found the two groups: centres are the groups' means in standardised space.
    z = _standardise(RAW)
    groups = np.array([z[:25].mean(axis=0), z[25:].mean(axis=0)])
    for name in ("kmeans", "bisecting_kmeans"):
        centres = np.array(sorted(_member(model, name).centres, key=lambda c: -c[2]))
        np.testing.assert_allclose(centres, groups, atol=1e-9)
    data = train_df.unionByName(probes)
    rows = model.raw_measures(data).collect()
    raw = np.array([[np.nan if v is None else v for v in r[1:4]] for r in rows])
    hand = _hand_terms(model, raw)
    for name in MEMBERS:
        got = np.array([r["raw_measures"][name] for r in rows])
        np.testing.assert_allclose(got, hand[name][0], rtol=1e-9, atol=1e-9, err_msg=name)


def test_robust_z_uses_median_and_mad_with_floors(spark):
    # requests: MAD > 0; bytes: MAD 0 (5 of 7 equal) -> mean absolute deviation; iat: constant.
    values = [(1.0, 9.0, 2.0), (3.0, 9.0, 2.0), (4.0, 9.0, 2.0), (8.0, 9.0, 2.0)]
    values += [(20.0, 9.0, 2.0), (50.0, 0.0, 2.0), (99.0, 99.0, 2.0)]
    df = spark.createDataFrame([(f"e{i}", *v) for i, v in enumerate(values)], SCHEMA)
    fitted = ensemble.fit(df, FEATURES, ModelConfig(members=["robust_z"], k=2))
    logs = np.log1p(np.array(values))
    median = np.median(logs, axis=0)
    mad = np.median(np.abs(logs - median), axis=0)
    mean_ad = np.abs(logs - median).mean(axis=0)
    robust = _member(fitted, "robust_z")
    np.testing.assert_allclose(robust.medians, median, atol=1e-12)
    assert mad[1] == 0 and mad[2] == 0 and mean_ad[2] == 0
    scales = [1.4826 * mad[0], 1.2533 * mean_ad[1], 1e-3]
    np.testing.assert_allclose(robust.scales, scales, rtol=1e-12)
    assert fitted.metrics["members"]["robust_z"]["floored_scale_features"] == ["iat_mean"]
    row = fitted.raw_measures(spark.createDataFrame([("x", 4.0, 9.0, 3.0)], SCHEMA)).first()
    zs = (np.log1p([4.0, 9.0, 3.0]) - median) / np.array(scales)
    assert row["raw_measures"]["robust_z"] == pytest.approx(math.sqrt((zs**2).mean()), rel=1e-12)


def test_percentile_counts_quantiles_at_or_below(spark):
    quantiles = sorted([0.0, 1.0, 1.0, 1.0, 2.0, 5.0] + [10.0 + i for i in range(64)])  # 70
    values = [-1.0, 0.0, 0.5, 1.0, 4.9, 5.0, 10.0, 41.5, 42.0, 73.0, 1e9, math.inf, math.nan]
    df = spark.createDataFrame([(v,) for v in values], "x double")
    got = [r["p"] for r in with_percentile(df, "x", quantiles, "p").collect()]
    q = np.array(quantiles)
    expected = [100.0 if math.isnan(v) else 100.0 * np.sum(q <= v) / len(q) for v in values]
    assert got == pytest.approx(expected, abs=1e-12)
    assert [c for c in with_percentile(df, "x", quantiles, "p").columns] == ["x", "p"]


def test_member_scores_are_training_ranks_and_scores_roughly_uniform(model, scored):
    n = len(ROWS)
    pcts = np.array([[scored[r[0]]["details"][m] for m in MEMBERS] for r in ROWS])
    hand = _hand_terms(model, RAW)
    for j, name in enumerate(MEMBERS):
        ranks = np.array([np.sum(hand[name][0] <= v) for v in hand[name][0]])
        np.testing.assert_allclose(pcts[:, j], 100.0 * ranks / n, atol=0.2, err_msg=name)
    scores = np.array([scored[r[0]]["score"] for r in ROWS])
    assert scores.min() >= 0 and scores.max() == 100.0
    assert np.abs(np.sort(scores) - 100.0 * np.arange(1, n + 1) / n).max() < 10.0
    order = np.argsort(pcts.mean(axis=1), kind="stable")
    assert list(scores[order]) == sorted(scores)  # monotone in the members' mean percentile


def test_scores_rise_as_sessions_move_away(scored):
    ray = [scored[f"ray{i}"] for i in range(6)]
    for name in MEMBERS:
        member = [r["details"][name] for r in ray]
        assert member == sorted(member), name
    scores = [r["score"] for r in ray]
    assert scores == sorted(scores) and scores[-1] == 100.0
    assert scored["typical"]["score"] < 50.0 < scored["huge_bytes"]["score"]
    assert 0.0 <= scored["nulls"]["score"] <= 100.0


def test_contributions_average_the_members_shares(model, scored, probes):
    assert scored["huge_bytes"]["contributions"][0]["feature"] == "bytes"
    assert scored["ray5"]["contributions"][0]["feature"] == "iat_mean"
    rows = [scored[r[0]] for r in ROWS] + [scored["huge_bytes"], scored["ray3"]]
    raw = np.array([[r[f] for f in FEATURES] for r in rows])
    hand = _hand_terms(model, raw)
    weights = np.zeros_like(raw)
    for _, terms in hand.values():
        weights += terms / terms.sum(axis=1, keepdims=True)
    weights /= len(hand)
    for row, w in zip(rows, weights, strict=True):
        contributions = row["contributions"]
        shares = {c["feature"]: c["share"] for c in contributions}
        assert [c["share"] for c in contributions] == sorted(shares.values(), reverse=True)
        assert sum(shares.values()) == pytest.approx(1.0)
        assert [shares[f] for f in FEATURES] == pytest.approx(list(w), abs=1e-9)
        for c in contributions:
            assert c["population_median"] == model.profile[c["feature"]]["median"]
            assert c["value"] == row[c["feature"]]


def test_constant_feature_is_left_out_of_gmm_and_caught_by_robust_z(spark):
    rows = [(*r, 5.0) for r in ROWS[::2]]
    df = spark.createDataFrame(rows, SCHEMA + ", const double")
    features = [*FEATURES, "const"]
    fitted = ensemble.fit(df, features, CFG)
    assert fitted.params["members"] == MEMBERS
    assert fitted.metrics["members"]["gmm"]["dropped_features"] == ["const"]
    probe = spark.createDataFrame([("odd", *ROWS[0][1:], 50.0)], SCHEMA + ", const double")
    row = fitted.score(probe).first()
    assert row["details"]["robust_z"] == 100.0
    shares = {c["feature"]: c["share"] for c in row["contributions"]}
    assert shares["const"] > 0.2
    scores = [r["score"] for r in fitted.score(df).collect()]
    assert all(0.0 <= s <= 100.0 for s in scores)


def test_duplicates_and_two_distinct_rows(spark):
    # c is a once preprocessed (negative and null count as 0): 3 raw rows, 2 distinct ones.
    rows = [("a", 0.0, 0.0, 1.0)] * 5 + [("b", 10.0, 300.0, 0.5)] * 3 + [("c", -1.0, None, 1.0)]
    df = spark.createDataFrame(rows, SCHEMA)
    fitted = ensemble.fit(df, FEATURES, ModelConfig(k=8, max_iter=10, seed=1))
    counts = (fitted.params["k"], fitted.metrics["rows"], fitted.metrics["distinct_rows"])
    assert counts == (2, 9, 2)
    gmm = fitted.metrics["members"]["gmm"]
    assert ("gmm" in fitted.params["members"]) != ("failed" in gmm)
    scored = {r["entity"]: r for r in fitted.score(df).collect()}
    assert scored["a"]["score"] == scored["c"]["score"]
    for row in scored.values():
        assert 0.0 <= row["score"] <= 100.0
        assert all(0.0 <= v <= 100.0 for v in row["details"].values())


def test_fit_refuses_fewer_than_two_distinct_rows(spark):
    df = spark.createDataFrame([("a", 1.0, 2.0, 3.0)] * 3, SCHEMA)
    with pytest.raises(StageFailed, match="at least 2 distinct"):
        ensemble.fit(df, FEATURES, CFG)


class _BrokenGaussianMixture:
    def __init__(self, **params):
        pass

    def fit(self, data):
        raise RuntimeError("Covariance matrix has no non-zero singular values")


def test_a_failed_gmm_is_recorded_and_the_others_carry_on(spark, train_df, monkeypatch):
    monkeypatch.setattr(gmm, "GaussianMixture", _BrokenGaussianMixture)
    fitted = ensemble.fit(train_df, FEATURES, ModelConfig(members=["gmm", "robust_z"]))
    assert fitted.params["members"] == ["robust_z"]
    assert "no non-zero singular values" in fitted.metrics["members"]["gmm"]["failed"]
    assert set(fitted.score(train_df).first()["details"]) == {"robust_z"}
    with pytest.raises(StageFailed, match="every anomaly model member failed"):
        ensemble.fit(train_df, FEATURES, ModelConfig(members=["gmm"]))


def _rows(df) -> list[tuple]:
    return [
        (r["entity"], r["score"], sorted(r["details"].items()), r["contributions"])
        for r in df.orderBy("entity").collect()
    ]


@pytest.fixture(scope="module")
def saved(spark, model, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("anomaly") / "model")
    model.save(spark, path)
    model.save(spark, path)  # replaces the first
    return path


def test_save_and_load_give_identical_scores(spark, model, saved, train_df, probes):
    names = sorted(n for n in os.listdir(saved) if not n.startswith("."))  # .crc files
    assert names == ["members", "model.json", "preprocess"]
    assert sorted(os.listdir(f"{saved}/members")) == ["bisecting_kmeans", "gmm", "kmeans"]
    loaded = ensemble.load(spark, saved)
    # On disk the preprocessing is one stock PipelineModel, loaded back with its stages named.
    stages = [type(s).__name__ for s in PipelineModel.load(f"{saved}/preprocess").stages]
    assert stages == ["SQLTransformer", "VectorAssembler", "StandardScalerModel"]
    assert loaded.preprocess.scaler.mean == model.preprocess.scaler.mean
    assert (loaded.params, loaded.metrics) == (model.params, model.metrics)
    data = train_df.unionByName(probes)
    assert _rows(loaded.score(data)) == _rows(model.score(data))


def test_a_fresh_process_loads_and_scores_the_same(spark, model, saved, train_df, tmp_path):
    source, target = str(tmp_path / "in"), str(tmp_path / "out")
    train_df.write.parquet(source)
    script = (
        "import sys\n"
        "from spark_jobs.models.anomaly.ensemble import load\n"
        "from spark_jobs.session import spark_session\n"
        "spark = spark_session('fresh-process', 'test')\n"
        "model = load(spark, sys.argv[1])\n"
        "model.score(spark.read.parquet(sys.argv[2])).write.parquet(sys.argv[3])\n"
    )
    python = REPO / ".venv" / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [str(python) if python.exists() else sys.executable, "-c", script, saved, source, target],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert _rows(spark.read.parquet(target)) == _rows(model.score(spark.read.parquet(source)))
