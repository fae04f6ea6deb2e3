"""The anomaly model against numpy hand computations on a tiny, well-separated example."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.testing import assertDataFrameEqual

from spark_jobs import anomaly_model as am
from spark_jobs.job_common import StageFailed
from spark_jobs.usecase_schema import ModelConfig

FEATURES = ["requests", "iat_mean"]
# Two obvious groups: a few slow requests, and many fast ones.
GROUPS = {
    "slow": [(10.0, 100.0), (14.0, 60.0), (11.0, 150.0)],
    "fast": [(1000.0, 1.0), (1600.0, 0.5), (700.0, 3.0)],
}
ROWS = [(f"{g}{i}", *v) for g, vals in GROUPS.items() for i, v in enumerate(vals)]


def _hand_model():
    """Scaled vectors and centres as the pipeline defines them, in numpy."""
    x = np.log1p(np.array([r[1:] for r in ROWS]))
    z = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)  # StandardScaler: sample std
    labels = np.array([0, 0, 0, 1, 1, 1])
    centres = np.array([z[labels == c].mean(axis=0) for c in (0, 1)])
    return z, centres


@pytest.fixture(scope="module")
def features_df(spark):
    return spark.createDataFrame(ROWS, "entity string, requests double, iat_mean double")


@pytest.fixture(scope="module")
def fitted(features_df):
    return am.fit(features_df, ModelConfig(k=2, max_iter=20, seed=1), FEATURES)


@pytest.fixture(scope="module")
def scored(fitted, features_df):
    return (
        am.with_distance(fitted.pipeline, features_df)
        .transform(lambda df: am.with_score(df, fitted.quantiles))
        .transform(lambda df: am.with_contributions(df, FEATURES))
        .orderBy("entity")
        .collect()
    )


def test_pipeline_holds_only_stock_stages(fitted):
    names = [type(s).__name__ for s in fitted.pipeline.stages]
    assert names == ["SQLTransformer", "VectorAssembler", "StandardScalerModel", "KMeansModel"]
    assert am.model_features(fitted.pipeline) == FEATURES


def test_distance_matches_numpy(fitted, scored):
    z, centres = _hand_model()
    got_centres = np.array(
        sorted(am.kmeans_stage(fitted.pipeline).clusterCenters(), key=lambda c: c[0])
    )
    np.testing.assert_allclose(got_centres, centres[np.argsort(centres[:, 0])], atol=1e-9)
    hand = {r[0]: np.min(np.linalg.norm(z[i] - centres, axis=1)) for i, r in enumerate(ROWS)}
    for row in scored:
        assert row["distance"] == pytest.approx(hand[row["entity"]], abs=1e-9)
    assert set(scored[0].asDict()) == {
        "entity", *FEATURES, "cluster", "distance", "score", "contributions"
    }  # fmt: skip


def test_calibration_quantiles_are_the_training_distances(fitted, scored):
    distances = np.array([r["distance"] for r in scored])
    q = fitted.quantiles
    assert len(q) == am.N_QUANTILES and q == sorted(q)
    assert q[0] == pytest.approx(distances.min()) and q[-1] == pytest.approx(distances.max())
    assert (fitted.k, fitted.rows, fitted.distinct_rows) == (2, 6, 6)
    assert sorted(fitted.cluster_sizes) == [3, 3]


def test_score_is_the_share_of_quantiles_at_or_below_the_distance(spark):
    df = spark.createDataFrame([(d,) for d in (0.0, 1.0, 2.5, 4.0, 10.0)], "distance double")
    actual = am.with_score(df, [1.0, 2.0, 3.0, 4.0])
    expected = spark.createDataFrame(
        [(0.0, 0.0), (1.0, 25.0), (2.5, 50.0), (4.0, 100.0), (10.0, 100.0)],
        "distance double, score double",
    )
    assertDataFrameEqual(actual, expected)


def test_scores_are_in_range_and_monotone_in_distance(scored):
    pairs = sorted((r["distance"], r["score"]) for r in scored)
    scores = [s for _, s in pairs]
    assert all(0.0 <= s <= 100.0 for s in scores)
    assert scores == sorted(scores)
    assert scores[-1] == 100.0


def test_contributions_explain_the_distance(scored):
    z, centres = _hand_model()
    raw = np.array([r[1:] for r in ROWS])
    lower_median = np.sort(raw, axis=0)[(len(ROWS) - 1) // 2]
    for row in scored:
        i = next(j for j, r in enumerate(ROWS) if r[0] == row["entity"])
        terms = (z[i] - centres[np.argmin(np.linalg.norm(z[i] - centres, axis=1))]) ** 2
        contribs = row["contributions"]
        shares = [c["share"] for c in contribs]
        assert shares == sorted(shares, reverse=True)
        assert sum(shares) == pytest.approx(1.0)
        for c in contribs:
            f = FEATURES.index(c["feature"])
            assert c["value"] == raw[i, f]
            assert c["population_median"] == lower_median[f]
            assert c["share"] == pytest.approx(terms[f] / terms.sum(), abs=1e-9)


def test_contributions_at_distance_zero_are_all_zero(spark):
    df = spark.createDataFrame(
        [(1.0, 2.0, [0.0, 0.0])], "requests double, iat_mean double, distance_terms array<double>"
    )
    row = am.with_contributions(df, FEATURES, {"requests": 1.0, "iat_mean": 2.0}).first()
    assert [c["share"] for c in row["contributions"]] == [0.0, 0.0]
    assert "distance_terms" not in row.asDict()


def test_k_is_capped_at_the_distinct_rows(spark):
    df = spark.createDataFrame(
        [(1.0, 1.0), (1.0, 1.0), (5.0, 2.0), (50.0, 9.0)], "requests double, iat_mean double"
    )
    fitted = am.fit(df, ModelConfig(k=8, max_iter=5), FEATURES)
    assert (fitted.k, fitted.rows, fitted.distinct_rows) == (3, 4, 3)


def test_fit_refuses_fewer_than_two_rows(spark):
    df = spark.createDataFrame([(1.0, 1.0)], "requests double, iat_mean double")
    with pytest.raises(StageFailed, match="at least 2 distinct"):
        am.fit(df, ModelConfig(k=2), FEATURES)
