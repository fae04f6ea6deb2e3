"""The gmm member: negative log-likelihood under a Gaussian mixture of the standardised features.

Spark's GaussianMixture fits k full covariance matrices. Scoring uses, per component,
S = cov (eigenvalues clipped at 0) + ``REG_COVAR`` x I rather than Spark's own density, which
takes a pseudo-inverse and so ignores any deviation along a direction in which a component is
flat (a feature constant within a cluster, two features always equal): exactly the deviations
an anomaly detector must not miss. With S = L L' (Cholesky) and y = L^-1 (z - mean),
log N(z) = -(|y|^2 + log det S + d log 2 pi) / 2 and the measure is
-log sum_k w_k N_k(z), computed as a log-sum-exp around the most probable component.

Features constant in training are left out of this member: they make every covariance singular
and carry nothing (standardisation maps them to 0 whatever their value); robust_z still sees
them. If EM fails or yields unusable parameters the member is dropped and the reason recorded
in its metrics, and the ensemble goes on with the other members.

Contributions: |y|^2 does not split into non-negative per-feature parts (off-diagonal terms can
be negative), so a feature's weight is its squared deviation from the most probable
component's mean over that component's variance of the feature (diagonal of S): how many of
the cluster's own standard deviations the session is away from it, feature by feature.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from pyspark.ml.clustering import GaussianMixture, GaussianMixtureModel
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.models.anomaly.members import PREFIX, SCALED, Member, raw_col, term_col, z_col
from spark_jobs.models.anomaly.sql import array_sql, linear, num, quote, square, total, with_layer

log = logging.getLogger("botwatch")

#: Added to every covariance's diagonal, in standardised units (scikit-learn's default).
REG_COVAR = 1e-6
NAME = "gmm"


class Component:
    """One Gaussian, reduced to what the SQL needs."""

    def __init__(self, weight: float, mean: np.ndarray, cov: np.ndarray, reg: float):
        d = len(mean)
        cov = (cov + cov.T) / 2
        values, vectors = np.linalg.eigh(cov)
        cov = (vectors * np.clip(values, 0.0, None)) @ vectors.T + reg * np.eye(d)
        chol = np.linalg.cholesky(cov)
        self.whiten = np.tril(np.linalg.inv(chol))
        self.shift = self.whiten @ mean
        log_det = 2.0 * float(np.sum(np.log(np.diag(chol))))
        self.constant = math.log(weight) - 0.5 * (d * math.log(2 * math.pi) + log_det)
        self.mean, self.variance = mean, np.diag(cov).copy()
        numbers = [self.whiten, self.shift, self.constant, self.mean, self.variance]
        if not all(np.all(np.isfinite(x)) for x in numbers):
            raise ValueError("non-finite Gaussian parameters")


class GaussianMixtureMember(Member):
    name = NAME

    def __init__(self, model, kept: list[int], n_features: int, reg: float, metrics=None):
        self.model, self.kept, self.n_features, self.reg = model, kept, n_features, reg
        self.metrics = metrics or {}
        self.components = [
            Component(w, g.mean.toArray(), g.cov.toArray(), reg)
            for w, g in zip(model.weights, model.gaussians, strict=True)
            if w > 0
        ]
        if not self.components:
            raise ValueError("no component with positive weight")

    def stage(self):
        return self.model

    def state(self) -> dict[str, Any]:
        return {"kept_features": self.kept, "n_features": self.n_features, "reg_covar": self.reg}

    def with_measure(self, df: DataFrame) -> DataFrame:
        p, zs = f"{PREFIX}{NAME}_", [quote(z_col(j)) for j in self.kept]
        comps = list(enumerate(self.components))
        ys = {c: [f"{p}y{c}_{i}" for i in range(len(zs))] for c, _ in comps}
        df = with_layer(
            df,
            {
                ys[c][i]: linear(g.whiten[i, : i + 1], zs[: i + 1], -g.shift[i])
                for c, g in comps
                for i in range(len(zs))
            },
        )
        lps = {c: f"{p}lp{c}" for c, _ in comps}
        df = with_layer(
            df,
            {
                lps[c]: f"{num(g.constant)} - 0.5D * "
                + total(f"{quote(y)} * {quote(y)}" for y in ys[c])
                for c, g in comps
            },
            drop=[y for c in ys for y in ys[c]],
        )
        pairs = ", ".join(f"named_struct('lp', {quote(lps[c])}, 'i', {c})" for c, _ in comps)
        df = with_layer(df, {p + "best": f"array_max(array({pairs}))"})
        top, which = f"{quote(p + 'best')}.lp", f"{quote(p + 'best')}.i"
        exps = total(f"exp({quote(lps[c])} - {top})" for c, _ in comps)
        means = "array(" + ", ".join(array_sql(g.mean) for _, g in comps) + ")"
        variances = "array(" + ", ".join(array_sql(g.variance) for _, g in comps) + ")"
        mean, var = p + "mean", p + "var"
        df = with_layer(
            df,
            {
                raw_col(NAME): f"-({top} + ln({exps}))",
                mean: f"{means}[{which}]",
                var: f"{variances}[{which}]",
            },
            drop=[*lps.values(), p + "best"],
        )
        position = {j: i for i, j in enumerate(self.kept)}
        columns = {}
        for j in range(self.n_features):
            if j in position:
                deviation = square(f"{quote(z_col(j))} - {quote(mean)}[{position[j]}]")
                columns[term_col(NAME, j)] = f"{deviation} / {quote(var)}[{position[j]}]"
            else:
                columns[term_col(NAME, j)] = "0D"
        return with_layer(df, columns, drop=[mean, var])


def fit_gmm(
    train: DataFrame, features: list[str], std: list[float], k: int, max_iter: int, seed: int
) -> tuple[GaussianMixtureMember | None, dict[str, Any]]:
    """The fitted member and its metrics, or None and metrics saying why it failed."""
    kept = [j for j, s in enumerate(std) if s > 0]
    dropped = [features[j] for j, s in enumerate(std) if not s > 0]
    if not kept:
        return None, {"failed": "no feature varies", "dropped_features": dropped}
    column, data = SCALED, train
    if dropped:
        column = f"{PREFIX}{NAME}_features"
        scaled = f"{PREFIX}{NAME}_scaled"
        data = train.withColumn(scaled, vector_to_array(F.col(SCALED)))
        data = data.withColumn(column, array_to_vector(F.array(*[F.col(scaled)[j] for j in kept])))
    estimator = GaussianMixture(
        featuresCol=column,
        predictionCol=f"{PREFIX}cluster",
        probabilityCol=f"{PREFIX}probability",
        k=k,
        maxIter=max_iter,
        seed=seed,
    )
    try:
        model = estimator.fit(data)
        summary = model.summary
        metrics = {
            "k": len(model.weights),
            "log_likelihood": float(summary.logLikelihood),
            "iterations": int(summary.numIter),
            "weights": [float(w) for w in model.weights],
            "cluster_sizes": [int(s) for s in summary.clusterSizes],
            "dropped_features": dropped,
            "reg_covar": REG_COVAR,
        }
        return GaussianMixtureMember(model, kept, len(features), REG_COVAR, metrics), metrics
    except Exception as exc:  # EM on degenerate data: keep the ensemble going without it
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        log.warning("gmm member dropped: %s", reason)
        return None, {"failed": reason[:500], "dropped_features": dropped}


def load_gmm(state: dict[str, Any], path: str) -> GaussianMixtureMember:
    model = GaussianMixtureModel.load(path)
    return GaussianMixtureMember(
        model, list(state["kept_features"]), int(state["n_features"]), float(state["reg_covar"])
    )
