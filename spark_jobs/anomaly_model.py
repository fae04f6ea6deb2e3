"""KMeans of "normal" entities, and an explained 0-100 anomaly score from the distance to it.

An entity is anomalous when its behaviour is far from every cluster of the training window.
The pipeline holds only stock Spark ML stages (SQLTransformer, VectorAssembler, StandardScaler,
KMeans) so it loads in any process with plain pyspark. Distances, scores and explanations are
Spark SQL array expressions with the centres and calibration inlined as literals: no Python
UDF, so they run in the JVM and the same code serves any data size.

The score is the distance's percentile among the training rows' own distances (1001
quantiles kept in the model metadata): 95 means "further from its cluster than 95 % of the
entities the model was fitted on", whatever the units of the features.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.clustering import KMeans
from pyspark.ml.feature import SQLTransformer, StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.job_common import StageFailed
from spark_jobs.usecase_schema import ModelConfig

log = logging.getLogger("botwatch")

LOG_PREFIX = "log1p_"
VECTOR_COL = "feature_vector"
SCALED_COL = "scaled_features"
CLUSTER_COL = "cluster"
#: Per-feature squared scaled differences to the centre; consumed by ``with_contributions``.
TERMS_COL = "distance_terms"
N_QUANTILES = 1001
#: Up to this many rows the calibration quantiles are exact; above, relative error 1e-4.
EXACT_QUANTILE_ROWS = 200_000


@dataclass(frozen=True)
class FittedModel:
    """A fitted pipeline and what scoring needs besides it (stored in metadata.json)."""

    pipeline: PipelineModel
    quantiles: list[float]
    k: int
    rows: int
    distinct_rows: int
    training_cost: float
    cluster_sizes: list[int]


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def build_pipeline(features: Sequence[str], k: int, max_iter: int, seed: int) -> Pipeline:
    """log1p -> assemble -> standardise -> KMeans.

    log1p keeps heavy-tailed counts (requests, bytes, seconds) from dominating the distance;
    standardising gives every feature the same weight; nulls count as 0 so one missing value
    does not drop an entity from scoring.
    """
    logs = ", ".join(
        f"log1p(greatest(coalesce(CAST({_q(f)} AS DOUBLE), 0D), 0D)) AS {_q(LOG_PREFIX + f)}"
        for f in features
    )
    return Pipeline(
        stages=[
            SQLTransformer(statement=f"SELECT *, {logs} FROM __THIS__"),
            VectorAssembler(inputCols=[LOG_PREFIX + f for f in features], outputCol=VECTOR_COL),
            StandardScaler(inputCol=VECTOR_COL, outputCol=SCALED_COL, withMean=True, withStd=True),
            KMeans(
                featuresCol=SCALED_COL,
                predictionCol=CLUSTER_COL,
                k=k,
                maxIter=max_iter,
                seed=seed,
            ),
        ]
    )


def fit(features_df: DataFrame, model_cfg: ModelConfig, features: Sequence[str]) -> FittedModel:
    """Fit on ``features_df``; returns the pipeline with its calibration quantiles.

    k is capped at the number of distinct feature rows (KMeans cannot place more centres than
    there are points) and raised to 2 (Spark's KMeans minimum).
    """
    data = features_df.select(*features).persist()
    try:
        counts = data.agg(
            F.count(F.lit(1)).alias("rows"),
            F.count_distinct(F.struct(*features)).alias("distinct"),
        ).first()
        rows, distinct = int(counts["rows"]), int(counts["distinct"])
        if rows < 2 or distinct < 2:
            raise StageFailed(
                f"cannot train on {rows} feature row(s) with {distinct} distinct value(s): "
                "KMeans needs at least 2 distinct entities in the training window"
            )
        k = max(2, min(model_cfg.k, distinct))
        if k != model_cfg.k:
            log.warning("model.k=%s adjusted to %s (%s distinct rows)", model_cfg.k, k, distinct)
        model = build_pipeline(features, k, model_cfg.max_iter, model_cfg.seed).fit(data)
        distances = with_distance(model, data)
        relative_error = 0.0 if rows <= EXACT_QUANTILE_ROWS else 1e-4
        probs = [i / (N_QUANTILES - 1) for i in range(N_QUANTILES)]
        quantiles = sorted(distances.approxQuantile("distance", probs, relative_error))
        summary = kmeans_stage(model).summary
        return FittedModel(
            pipeline=model,
            quantiles=[float(q) for q in quantiles],
            k=k,
            rows=rows,
            distinct_rows=distinct,
            training_cost=float(summary.trainingCost),
            cluster_sizes=[int(s) for s in summary.clusterSizes],
        )
    finally:
        data.unpersist()


def kmeans_stage(model: PipelineModel):
    return model.stages[-1]


def model_features(model: PipelineModel) -> list[str]:
    """The raw feature names the pipeline was built for, in vector order."""
    assembler = model.stages[1]
    return [name[len(LOG_PREFIX) :] for name in assembler.getInputCols()]


def _double_array(values: Sequence[float]) -> Column:
    return F.array(*[F.lit(float(v)) for v in values])


def with_distance(model: PipelineModel, df: DataFrame) -> DataFrame:
    """Add ``cluster``, ``distance`` (Euclidean, scaled space, to the assigned centre, which is
    the nearest one) and ``distance_terms``; drop the pipeline's intermediate columns."""
    centres = F.array(*[_double_array(c) for c in kmeans_stage(model).clusterCenters()])
    centre = F.element_at(centres, F.col(CLUSTER_COL) + 1)
    terms = F.zip_with(vector_to_array(F.col(SCALED_COL)), centre, lambda x, c: (x - c) * (x - c))
    total = F.aggregate(F.col(TERMS_COL), F.lit(0.0), lambda acc, t: acc + t)
    intermediate = [LOG_PREFIX + f for f in model_features(model)] + [VECTOR_COL, SCALED_COL]
    return (
        model.transform(df)
        .withColumn(TERMS_COL, terms)
        .withColumn("distance", F.sqrt(total))
        .drop(*intermediate)
    )


def with_score(df: DataFrame, quantiles: Sequence[float]) -> DataFrame:
    """Add ``score`` in [0, 100]: the share of calibration quantiles at or below ``distance``."""
    if not quantiles:
        raise ValueError("no calibration quantiles")
    below = F.size(F.filter(_double_array(quantiles), lambda q: q <= F.col("distance")))
    return df.withColumn("score", F.lit(100.0) * below / F.lit(float(len(quantiles))))


def population_medians(df: DataFrame, features: Sequence[str]) -> dict[str, float | None]:
    """Median of each feature over ``df`` (percentile_approx: for an even count, the lower of
    the two middle values; exact up to 10k rows)."""
    row = df.agg(
        *[F.percentile_approx(F.col(f).cast("double"), 0.5, 10_000).alias(f) for f in features]
    ).first()
    return {f: (None if row is None else row[f]) for f in features}


def with_contributions(
    df: DataFrame, features: Sequence[str], medians: dict[str, float | None] | None = None
) -> DataFrame:
    """Replace ``distance_terms`` by ``contributions``: why this entity scored as it did.

    One struct per feature: its raw value, the median of the rows being scored (``medians``,
    computed from ``df`` when not given) and its share of the squared distance. Sorted by share,
    largest first, so the first few entries explain an alert. Shares sum to 1 except at
    distance 0, where all are 0.
    """
    medians = population_medians(df, features) if medians is None else medians
    total = F.aggregate(F.col(TERMS_COL), F.lit(0.0), lambda acc, t: acc + t)
    items = [
        F.struct(
            F.lit(f).alias("feature"),
            F.col(f).cast("double").alias("value"),
            F.lit(medians.get(f)).cast("double").alias("population_median"),
            F.when(total > 0, F.col(TERMS_COL)[i] / total).otherwise(0.0).alias("share"),
        )
        for i, f in enumerate(features)
    ]

    def by_share_desc(left: Column, right: Column) -> Column:
        return (
            F.when(left["share"] > right["share"], -1)
            .when(left["share"] < right["share"], 1)
            .when(left["feature"] < right["feature"], -1)
            .when(left["feature"] > right["feature"], 1)
            .otherwise(0)
        )

    return df.withColumn("contributions", F.array_sort(F.array(*items), by_share_desc)).drop(
        TERMS_COL
    )
