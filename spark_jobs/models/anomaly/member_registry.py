"""Member name (ModelConfig.members) -> how that member is fit and loaded back.

Kept apart from ``members`` because the gmm member lives in its own module (``gmm``), which
itself builds on ``members``. (``spark_jobs.models.kinds`` is the other registry: model kinds.)
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame

from spark_jobs.config.model import CENTROID_MEMBERS as CENTROIDS
from spark_jobs.config.model import ModelConfig
from spark_jobs.models.anomaly import gmm
from spark_jobs.models.anomaly.members import (
    Member,
    fit_centroids,
    fit_robust_z,
    load_centroids,
    load_robust_z,
)


def fit_member(
    name: str,
    train: DataFrame,
    features: list[str],
    cfg: ModelConfig,
    k: int,
    std: list[float],
    relative_error: float,
) -> tuple[Member | None, dict[str, Any]]:
    """The fitted member (None when it failed) and its training metrics."""
    if name in CENTROIDS:
        member = fit_centroids(name, train, k, cfg.max_iter, cfg.seed)
        return member, member.metrics
    if name == gmm.NAME:
        return gmm.fit_gmm(train, features, std, k, cfg.max_iter, cfg.seed)
    if name == "robust_z":
        member = fit_robust_z(train, features, relative_error)
        return member, member.metrics
    raise ValueError(f"unknown anomaly model member {name!r}")


def load_member(name: str, state: dict[str, Any], path: str) -> Member:
    """``state`` is what ``Member.state`` saved; ``path`` where its Spark model was written."""
    if name in CENTROIDS:
        return load_centroids(name, state, path)
    if name == gmm.NAME:
        return gmm.load_gmm(state, path)
    if name == "robust_z":
        return load_robust_z(state)
    raise ValueError(f"unknown anomaly model member {name!r}")
