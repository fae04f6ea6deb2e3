"""A classifier learnt from bot / not-bot labels, with a calibrated and explained 0-100 score.

The pipeline holds only stock Spark ML stages (SQLTransformer, VectorAssembler, StandardScaler,
a GBT / random forest / logistic regression classifier and an IsotonicRegression calibration
map) so it loads in any process with plain pyspark; what scoring needs besides it (calibration
fallback, attribution constants, feature profile) is plain JSON next to it.

Score: ``100 * (0.999 * calibrated + 0.001 * raw)`` where ``raw`` is the classifier's
positive-class probability and ``calibrated`` its estimate of the real bot probability at the
training prevalence (see ``supervised_training``). Isotonic calibration is a step function, so
many rows would share a score; the 0.1 % share of the raw probability breaks those ties in the
classifier's own order (ranking metrics follow the raw model) while the value still reads as a
probability in per cent, within 0.1 point. The score is strictly increasing in ``raw``.

Explanation (``contributions``): a feature's weight for a row is its global importance (tree
ensembles' featureImportances, |coefficient| for logistic regression) times how far the row's
standardised log1p value lies from the training median of that value. For logistic regression
this is exactly the size of the feature's term in the log-odds difference between the row and
a median row; for trees it is a heuristic that ranks features that matter to the model *and*
are unusual in this row first. Weights are unsigned: a feature far off in the human direction
also counts as a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.config.model import ModelConfig
from spark_jobs.lake import storage
from spark_jobs.models import explain
from spark_jobs.models.supervised import training

#: Share of the raw probability in the score (tie-break between calibration plateaus).
TIE_BREAK = 0.001
WEIGHTS_COL = "_sv_weights"
RAW_P_COL = "_sv_raw_p"
CALIBRATED_P_COL = "_sv_calibrated_p"
PIPELINE_DIR = "pipeline"
METADATA_FILE = "model.json"


@dataclass
class SupervisedModel:
    """A fitted supervised pipeline and the JSON that scoring needs besides it.

    ``params`` (settings, class weights, calibration) and ``metrics`` (training counts,
    out-of-fold and in-sample ROC-AUC and trapezoidal PR-AUC, importances) are JSON;
    ``explanation`` holds the attribution constants and the training rows' feature profile.
    """

    pipeline: PipelineModel
    features: list[str]
    params: dict[str, Any]
    metrics: dict[str, Any]
    explanation: dict[str, Any] = field(default_factory=dict)

    def score(self, df: DataFrame) -> DataFrame:
        """``df`` plus ``score`` (0-100, double), ``details`` ({"probability": the raw
        positive-class probability}) and ``contributions`` (explain.CONTRIBUTIONS_TYPE)."""
        raw = F.col(RAW_P_COL)
        scored = (
            self.pipeline.transform(df)
            .withColumn(RAW_P_COL, vector_to_array(F.col(training.PROB_COL))[1])
            .withColumn(CALIBRATED_P_COL, self._calibrated(raw))
            .withColumn("score", _score(F.col(CALIBRATED_P_COL), raw))
            .withColumn("details", F.create_map(F.lit("probability"), raw))
            .withColumn(WEIGHTS_COL, self._weights())
        )
        scored = explain.with_contributions(
            scored, self.features, self.explanation["profile"], WEIGHTS_COL
        )
        internal = [RAW_P_COL, CALIBRATED_P_COL, *training.intermediate_columns(self.features)]
        return scored.drop(*internal)

    def _calibrated(self, raw: Column) -> Column:
        calibration = self.params["calibration"]
        if calibration["method"] == training.ISOTONIC:
            return F.col(training.CALIBRATED_COL)
        return training.prior_shift(raw, calibration["prevalence"])

    def _weights(self) -> Column:
        importance = _doubles(self.explanation["importance"])
        centre = _doubles(self.explanation["centre"])
        scaled = vector_to_array(F.col(training.SCALED_COL))
        return F.zip_with(
            F.zip_with(scaled, centre, lambda x, c: F.abs(x - c)),
            importance,
            lambda d, w: d * w,
        )

    def save(self, spark: Any, path: str) -> None:
        """Write ``path/pipeline`` (Spark ML) and ``path/model.json``, replacing both."""
        self.pipeline.write().overwrite().save(f"{path}/{PIPELINE_DIR}")
        metadata = {
            "kind": "supervised",
            "features": self.features,
            "params": self.params,
            "metrics": self.metrics,
            "explanation": self.explanation,
        }
        storage.write_json(spark, f"{path}/{METADATA_FILE}", metadata)


def _doubles(values: Sequence[float]) -> Column:
    return F.array(*[F.lit(float(v)) for v in values]).cast("array<double>")


def _score(calibrated: Column, raw: Column) -> Column:
    """0-100; clamped so that float rounding can never leave the range."""
    mixed = F.lit(100.0) * (F.lit(1.0 - TIE_BREAK) * calibrated + F.lit(TIE_BREAK) * raw)
    return F.least(F.greatest(mixed, F.lit(0.0)), F.lit(100.0))


def fit(
    df: DataFrame, features: Sequence[str], cfg: ModelConfig, label_col: str = "label"
) -> SupervisedModel:
    """Fit on the labelled rows of ``df`` (``label_col``: 1.0 bot, 0.0 not, null ignored).

    Raises StageFailed when either class is missing.
    """
    features = list(features)
    fitted = training.fit_calibrated(df, features, cfg, label_col)
    params = {
        "algorithm": cfg.algorithm,
        "max_iter": cfg.max_iter,
        "seed": cfg.seed,
        **fitted.params,
        "tie_break": TIE_BREAK,
    }
    return SupervisedModel(
        pipeline=fitted.pipeline,
        features=features,
        params=params,
        metrics=fitted.metrics,
        explanation={
            "importance": fitted.importance,
            "centre": fitted.centre,
            "profile": fitted.profile,
        },
    )


def load(spark: Any, path: str) -> SupervisedModel:
    """Read a model written by ``SupervisedModel.save``."""
    metadata = storage.read_json(spark, f"{path}/{METADATA_FILE}")
    return SupervisedModel(
        pipeline=PipelineModel.load(f"{path}/{PIPELINE_DIR}"),
        features=list(metadata["features"]),
        params=metadata["params"],
        metrics=metadata["metrics"],
        explanation=metadata["explanation"],
    )
