"""A tree ensemble as plain data: what the shipped general model is, and how it scores.

The general model is trained once, by the maintainers, on the pooled dev data sets
(``models.general.training``) and committed as JSON: arrays per tree (split feature,
threshold, children, the bot share of each node). Scoring it needs numpy only, in any
process: no Spark ML model folder to load from a path the Connect server or a cluster's
executors might not see, no scikit-learn at run time, and a reviewer can read what it holds.

The contributions are the trees' own (Saabas): along each row's path, every split moves the
bot share from the node's value to the child's; that change is credited to the split's
feature, and averaged over the trees. The positive parts are "what made this look like a bot".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LEAF = -1


@dataclass(frozen=True)
class Tree:
    """One binary tree; node 0 is the root; ``left[i] == LEAF`` marks a leaf."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    #: Share of bots among the (weighted) training rows that reach each node.
    value: np.ndarray

    def to_json(self) -> dict[str, list]:
        return {
            "feature": self.feature.tolist(),
            "threshold": [float(t) for t in self.threshold],
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "value": [round(float(v), 5) for v in self.value],
        }

    @classmethod
    def from_json(cls, doc: dict[str, list]) -> Tree:
        return cls(
            feature=np.asarray(doc["feature"], dtype=np.int64),
            threshold=np.asarray(doc["threshold"], dtype=np.float64),
            left=np.asarray(doc["left"], dtype=np.int64),
            right=np.asarray(doc["right"], dtype=np.int64),
            value=np.asarray(doc["value"], dtype=np.float64),
        )

    def walk(self, x: np.ndarray, contributions: np.ndarray) -> np.ndarray:
        """The bot share of each row's leaf; adds each split's change to ``contributions``
        (rows x features). Rows go left when ``value <= threshold``, as scikit-learn does."""
        rows = np.arange(x.shape[0])
        node = np.zeros(x.shape[0], dtype=np.int64)
        while True:
            inner = self.left[node] != LEAF
            if not inner.any():
                return self.value[node]
            r, n = rows[inner], node[inner]
            goes_left = x[r, self.feature[n]] <= self.threshold[n]
            child = np.where(goes_left, self.left[n], self.right[n])
            np.add.at(contributions, (r, self.feature[n]), self.value[child] - self.value[n])
            node[inner] = child


@dataclass(frozen=True)
class Forest:
    """The averaged trees, their features (in column order) and what the card says of them."""

    name: str
    features: tuple[str, ...]
    trees: tuple[Tree, ...]
    card: dict[str, Any] = field(default_factory=dict)

    def matrix(self, columns: dict[str, Any]) -> np.ndarray:
        """Rows x features as float64 from per-feature sequences; missing values are 0, as in
        training."""
        x = np.column_stack([np.asarray(columns[f], dtype=np.float64) for f in self.features])
        return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bot probability per row, per-row feature contributions), both averaged over trees."""
        contributions = np.zeros_like(x, dtype=np.float64)
        total = np.zeros(x.shape[0], dtype=np.float64)
        for tree in self.trees:
            total += tree.walk(x, contributions)
        n = float(len(self.trees))
        return total / n, contributions / n

    def to_json(self) -> str:
        doc = {"name": self.name, "features": list(self.features), "card": self.card,
               "trees": [t.to_json() for t in self.trees]}  # fmt: skip
        return json.dumps(doc, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Forest:
        doc = json.loads(text)
        return cls(
            name=doc["name"],
            features=tuple(doc["features"]),
            trees=tuple(Tree.from_json(t) for t in doc["trees"]),
            card=doc.get("card", {}),
        )


def from_sklearn(estimator: Any, name: str, features: Sequence[str], card: dict) -> Forest:
    """A ``Forest`` of a fitted scikit-learn ``RandomForestClassifier`` / ``ExtraTreesClassifier``
    (classes 0 and 1): each node's value is its weighted share of class 1."""
    if list(estimator.classes_) != [0, 1]:
        raise ValueError(f"expected classes [0, 1], got {list(estimator.classes_)}")
    trees = []
    for est in estimator.estimators_:
        t = est.tree_
        counts = t.value[:, 0, :]
        share = counts[:, 1] / np.maximum(counts.sum(axis=1), 1e-12)
        trees.append(
            Tree(
                feature=np.where(t.children_left == LEAF, 0, t.feature).astype(np.int64),
                threshold=np.where(t.children_left == LEAF, 0.0, t.threshold),
                left=t.children_left.astype(np.int64),
                right=t.children_right.astype(np.int64),
                value=share,
            )
        )
    return Forest(name=name, features=tuple(features), trees=tuple(trees), card=card)
