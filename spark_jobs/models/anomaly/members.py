"""The ensemble's members, each a different notion of "unlike the training sessions".

Every member reads the preprocessed features (``z_col``: log1p then standardised; ``log_col``:
log1p only) and adds ``raw_col``, one anomaly measure (higher = more anomalous, in the
member's own units; the ensemble only uses its percentile), and ``term_col`` per feature, a
non-negative weight saying how much of the measure comes from that feature. Clustering
members keep their Spark ML model (saved with its own writer); the numbers they need at scoring
time are read back from it and inlined in SQL (``anomaly_sql``).

- kmeans / bisecting_kmeans: Euclidean distance to the nearest centre in standardised space;
  terms are the per-feature squared differences (they sum to the squared distance).
  BisectingKMeans assigns points by walking its tree, which can miss the nearest leaf; the
  measure is the nearest centre over all leaves either way.
- robust_z: root mean square over features of |x - median| / scale on the log1p values, with
  scale = 1.4826 x MAD (the normal-consistent MAD). Where MAD is 0 (more than half the sessions
  share one value), 1.2533 x the mean absolute deviation from the median is used (also
  normal-consistent), and any scale is floored at ``SCALE_FLOOR`` so that a feature constant in
  training marks any other value as extreme without dividing by zero. Terms are the squared z.
  Unlike the others it sees features that are constant in training: standardisation maps them
  to 0 whatever their value.
- gmm: see ``anomaly_gmm``.
"""

from __future__ import annotations

from typing import Any

from pyspark.ml.clustering import BisectingKMeans, BisectingKMeansModel, KMeans, KMeansModel
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.models.anomaly.sql import PREFIX, array_sql, num, quote, square, total, with_layer

#: The standardised vector (Spark's StandardScaler) the estimators are fit on.
SCALED = PREFIX + "scaled"
SCALE_FLOOR = 1e-3
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533
BISECTING_SHIFT = 1.0


def log_col(j: int) -> str:
    return f"{PREFIX}log{j}"


def z_col(j: int) -> str:
    """Feature ``j`` standardised, one double column (its own column, so computed once)."""
    return f"{PREFIX}z{j}"


def raw_col(member: str) -> str:
    return f"{PREFIX}{member}_raw"


def term_col(member: str, j: int) -> str:
    return f"{PREFIX}{member}_t{j}"


class Member:
    """One fitted member: ``with_measure`` adds ``raw_col`` and the ``term_col`` of each of
    the ``n_features`` features."""

    name: str
    n_features: int
    metrics: dict[str, Any]

    def with_measure(self, df: DataFrame) -> DataFrame:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """JSON the member needs besides its Spark model to score again after loading."""
        return {}

    def stage(self):
        """The Spark ML model to save with its own writer, or None."""
        return None


class Centroids(Member):
    """kmeans / bisecting_kmeans: distance to the nearest centre.

    ``shift`` is the constant the estimator's input was translated by (centres are stored as
    fitted and shifted back here): BisectingKMeans splits a cluster by nudging its centre by
    1e-4 x the centre's norm, and the root centre of standardised data is the origin, so it
    would never split. A translation leaves Euclidean clustering otherwise unchanged.
    """

    def __init__(self, name: str, model, shift: float, metrics: dict[str, Any] | None = None):
        self.name, self.model, self.shift, self.metrics = name, model, shift, metrics or {}
        self.centres = [[float(v) - shift for v in c] for c in model.clusterCenters()]
        self.n_features = len(self.centres[0])

    def stage(self):
        return self.model

    def state(self) -> dict[str, Any]:
        return {"shift": self.shift}

    def with_measure(self, df: DataFrame) -> DataFrame:
        p, dims = f"{PREFIX}{self.name}_", range(self.n_features)
        dist = {
            f"{p}d{i}": total(square(f"{quote(z_col(j))} - {num(c[j])}") for j in dims)
            for i, c in enumerate(self.centres)
        }
        df = with_layer(df, dist)
        pairs = ", ".join(f"named_struct('d', {quote(d)}, 'i', {i})" for i, d in enumerate(dist))
        df = with_layer(df, {p + "best": f"array_min(array({pairs}))"}, drop=list(dist))
        table = "array(" + ", ".join(array_sql(c) for c in self.centres) + ")"
        best, centre = quote(p + "best"), p + "centre"
        df = with_layer(
            df,
            {raw_col(self.name): f"sqrt({best}.d)", centre: f"{table}[{best}.i]"},
            drop=[p + "best"],
        )
        terms = {
            term_col(self.name, j): square(f"{quote(z_col(j))} - {quote(centre)}[{j}]")
            for j in dims
        }
        return with_layer(df, terms, drop=[centre])


def fit_centroids(name: str, train: DataFrame, k: int, max_iter: int, seed: int) -> Centroids:
    column, shift, data = SCALED, 0.0, train
    if name == "bisecting_kmeans":
        column, shift = f"{PREFIX}shifted", BISECTING_SHIFT
        shifted = F.transform(vector_to_array(F.col(SCALED)), lambda x: x + F.lit(shift))
        data = train.withColumn(column, array_to_vector(shifted))
    cls = KMeans if name == "kmeans" else BisectingKMeans
    estimator = cls(
        featuresCol=column, predictionCol=f"{PREFIX}cluster", k=k, maxIter=max_iter, seed=seed
    )
    model = estimator.fit(data)
    summary = model.summary
    metrics = {
        "k": len(model.clusterCenters()),
        "training_cost": float(summary.trainingCost),
        "cluster_sizes": [int(s) for s in summary.clusterSizes],
        "iterations": int(summary.numIter),
    }
    return Centroids(name, model, shift, metrics)


class RobustZ(Member):
    """robust_z: RMS of robust z-scores of the log1p features."""

    name = "robust_z"

    def __init__(self, medians: list[float], scales: list[float], metrics=None):
        self.medians, self.scales, self.metrics = medians, scales, metrics or {}
        self.n_features = len(medians)

    def state(self) -> dict[str, Any]:
        return {"medians": self.medians, "scales": self.scales}

    def with_measure(self, df: DataFrame) -> DataFrame:
        terms = {
            term_col(self.name, j): square(f"({quote(log_col(j))} - {num(m)}) / {num(s)}")
            for j, (m, s) in enumerate(zip(self.medians, self.scales, strict=True))
        }
        df = with_layer(df, terms)
        mean = f"{total(map(quote, terms))} / {num(self.n_features)}"
        return with_layer(df, {raw_col(self.name): f"sqrt({mean})"})


def fit_robust_z(train: DataFrame, features: list[str], relative_error: float) -> RobustZ:
    logs = [log_col(j) for j in range(len(features))]
    medians = [q[0] for q in train.approxQuantile(logs, [0.5], relative_error)]
    deviations = train.select(
        *[F.abs(F.col(c) - F.lit(m)).alias(c) for c, m in zip(logs, medians, strict=True)]
    )
    mads = [q[0] for q in deviations.approxQuantile(logs, [0.5], relative_error)]
    mean_ads = deviations.agg(*[F.avg(c).alias(c) for c in logs]).first()
    scales, fallback, floored = [], [], []
    for j, (mad, col) in enumerate(zip(mads, logs, strict=True)):
        scale = MAD_TO_SIGMA * mad if mad > 0 else MEAN_AD_TO_SIGMA * float(mean_ads[col])
        if mad <= 0:
            fallback.append(features[j])
        if scale < SCALE_FLOOR:
            floored.append(features[j])
        scales.append(max(scale, SCALE_FLOOR))
    metrics = {"mean_ad_scale_features": fallback, "floored_scale_features": floored}
    return RobustZ([float(m) for m in medians], [float(s) for s in scales], metrics)


def load_centroids(name: str, state: dict[str, Any], path: str) -> Centroids:
    cls = KMeansModel if name == "kmeans" else BisectingKMeansModel
    return Centroids(name, cls.load(path), float(state["shift"]))


def load_robust_z(state: dict[str, Any]) -> RobustZ:
    return RobustZ(state["medians"], state["scales"])
