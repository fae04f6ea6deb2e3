"""The shipped model's evaluator reproduces scikit-learn exactly, and explains additively."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from spark_jobs.models.general.forest import Forest, from_sklearn

FEATURES = ("a", "b", "c")


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = ((x[:, 0] > 0.2) & (x[:, 1] < 0.5) | (x[:, 2] > 1.5)).astype(int)
    est = RandomForestClassifier(n_estimators=7, max_depth=5, random_state=0).fit(x, y)
    return est, x


def test_predictions_match_scikit_learn(fitted):
    est, x = fitted
    forest = from_sklearn(est, "t", FEATURES, {})
    p, _ = forest.predict(x)
    np.testing.assert_allclose(p, est.predict_proba(x)[:, 1], atol=1e-12)


def test_contributions_add_up_from_the_root_to_the_prediction(fitted):
    est, x = fitted
    forest = from_sklearn(est, "t", FEATURES, {})
    p, contributions = forest.predict(x)
    root = np.mean([t.value[0] for t in forest.trees])
    np.testing.assert_allclose(root + contributions.sum(axis=1), p, atol=1e-12)
    # Feature c decides only the rows where it is large: there it pushes towards "bot".
    assert contributions[x[:, 2] > 2.0, 2].mean() > 0


def test_json_round_trip_scores_the_same(fitted):
    est, x = fitted
    forest = from_sklearn(est, "t", FEATURES, {"trained": "2026-12-03"})
    again = Forest.from_json(forest.to_json())
    assert again.features == FEATURES and again.card == {"trained": "2026-12-03"}
    np.testing.assert_allclose(again.predict(x)[0], forest.predict(x)[0], atol=1e-5)


def test_matrix_orders_columns_by_the_models_features_and_zeroes_missing_values():
    forest = Forest("t", ("b", "a"), ())
    x = forest.matrix({"a": [1.0, float("nan")], "b": [3.0, 4.0], "z": [9.0, 9.0]})
    np.testing.assert_array_equal(x, [[3.0, 1.0], [4.0, 0.0]])


def test_only_binary_classifiers_are_taken():
    est = RandomForestClassifier(n_estimators=2, random_state=0).fit(
        np.arange(9).reshape(-1, 1), [0, 1, 2] * 3
    )
    with pytest.raises(ValueError, match=r"classes \[0, 1\]"):
        from_sklearn(est, "t", ("a",), {})
