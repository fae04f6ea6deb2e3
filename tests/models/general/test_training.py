"""``botwatch train-general``'s recipe on toy sites: weights, out-of-site metrics, the card."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

from spark_jobs.models.general import card, training

FEATURES = ["requests_pct", "static_share"]


def _site(n: int, seed: int, scale: float) -> pd.DataFrame:
    """Bots: few assets and high request percentile, on any scale of the raw values."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    return pd.DataFrame(
        {
            "requests_pct": np.where(label == 1, 0.8, 0.3) + rng.normal(0, 0.1, n),
            "static_share": scale * np.where(label == 1, 0.05, 0.6) + rng.normal(0, 0.05, n),
            "label": label.astype(float),
        }
    )


def _args(**kw) -> argparse.Namespace:
    base = {"trees": 10, "max_depth": 4, "min_leaf": 2, "seed": 0}
    return argparse.Namespace(**(base | kw))


def test_every_site_weighs_the_same_split_evenly_between_its_classes():
    weights = training._weights(np.array([1, 0, 0, 0]))
    assert weights.tolist() == pytest.approx([0.5, 0.5 / 3, 0.5 / 3, 0.5 / 3])
    assert weights.sum() == pytest.approx(1.0)


def test_out_of_site_scores_each_site_with_a_model_of_the_others():
    frames = {"a": _site(300, 1, 1.0), "b": _site(200, 2, 0.8), "c": _site(100, 3, 1.2)}
    results = training.out_of_site(frames, FEATURES, _args())
    assert set(results) == {"a", "b", "c"}
    assert results["c"]["n"] == 100
    assert all(r["roc_auc"] > 0.95 for r in results.values())


def test_the_card_lists_each_held_out_site_with_its_base_rate():
    frames = {"a": _site(300, 1, 1.0), "b": _site(200, 2, 0.8)}
    results = training.out_of_site(frames, FEATURES, _args())
    doc = {
        "name": "general-test", "trained": "2026-12-03", "command": "botwatch train-general x",
        "scikit_learn": "1.x", "params": {"trees": 10}, "threshold": 50.0,
        "sites": {k: {"sessions": len(f), "bots": int(f["label"].sum())} for k, f in frames.items()},
        "out_of_site": results, "importance": {"requests_pct": 0.6, "static_share": 0.4},
    }  # fmt: skip
    text = card.render(doc, FEATURES)
    bots = doc["sites"]["b"]["bots"]
    assert f"| b | 200 | {bots} |" in text  # the data table
    row = next(line for line in text.splitlines() if line.startswith(f"| b | 200 ({bots}) |"))
    assert f"| {bots / 200:.2f} |" in row  # the out-of-site table, with the base rate
    assert "| `requests_pct` | 0.6000 |" in text
