"""Fitting the supervised pipeline: class weights, out-of-fold calibration, metrics.

Class imbalance: bots are often a few per cent of sessions, so each row is weighted so that
both classes weigh half of the total (``weightCol``); otherwise a classifier can reach high
accuracy by calling everyone human.

Calibration: tree ensembles' probabilities are badly calibrated and class weights shift every
classifier's towards 50 %. So the raw positive-class probability is mapped through an isotonic
regression fitted on out-of-fold predictions (3 folds of the training rows, each predicted by a
model that did not see it, with unweighted labels): its output estimates the real bot
probability at the training prevalence. The final classifier is then fitted on all rows and
the isotonic map (a stock IsotonicRegressionModel reading the probability vector) is appended
to its pipeline. This is the scheme of scikit-learn's CalibratedClassifierCV(ensemble=False).

Small data: with fewer than MIN_CALIBRATION_ROWS rows of either class, out-of-fold isotonic
fits are noise (and a fold may miss a class), so the fallback is a prior shift: with balanced
weights the classifier estimates the bot probability as if both classes were equally common;
Bayes' rule moves it back to the training prevalence. Monotone, no fitting, but inherits the
classifier's own (mis)calibration; ``params.calibration.method`` says which one was used.

Metrics (``oof_*`` out of fold, ``train_*`` in sample) are Spark's ROC-AUC and its trapezoidal
area under the PR curve, ``*_pr_auc_trapezoid``: named apart from the step-wise average
precision that ``botwatch eval`` reports (``evaluation.metrics``), which is not the same number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

from pyspark.ml import Model, PipelineModel, Transformer
from pyspark.ml.classification import GBTClassifier, LogisticRegression, RandomForestClassifier
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.functions import vector_to_array
from pyspark.ml.regression import IsotonicRegression
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.config.model import ModelConfig
from spark_jobs.errors import StageFailed
from spark_jobs.models import explain
from spark_jobs.models.inputs import FittedScaling, fit_log_scaling

LABEL_COL = "label"
LOG_PREFIX = "_sv_log1p_"
VECTOR_COL = "_sv_vector"
SCALED_COL = "_sv_scaled"
RAW_COL = "_sv_raw_prediction"
PROB_COL = "_sv_probability"
PRED_COL = "_sv_prediction"
CALIBRATED_COL = "_sv_calibrated"
WEIGHT_COL = "_sv_weight"

ISOTONIC = "isotonic_out_of_fold"
PRIOR_SHIFT = "prior_shift"
FOLDS = 3
MIN_CALIBRATION_ROWS = 30
RF_NUM_TREES = 50
#: A little L2 keeps logistic regression finite on separable data.
LR_REG_PARAM = 0.01
EXACT_QUANTILE_ROWS = 200_000


@dataclass(frozen=True)
class Fitted:
    pipeline: PipelineModel
    params: dict[str, Any]
    metrics: dict[str, Any]
    importance: list[float]
    centre: list[float]
    profile: dict[str, dict[str, Any]]


def intermediate_columns(features: Sequence[str]) -> list[str]:
    """Columns the pipeline adds besides what ``score`` keeps."""
    logs = [LOG_PREFIX + f for f in features]
    return [*logs, VECTOR_COL, SCALED_COL, RAW_COL, PROB_COL, PRED_COL, CALIBRATED_COL]


def _classifier(cfg: ModelConfig):
    common = dict(
        featuresCol=SCALED_COL, labelCol=LABEL_COL, weightCol=WEIGHT_COL, predictionCol=PRED_COL
    )
    if cfg.algorithm == "gbt":
        clf = GBTClassifier(maxIter=cfg.max_iter, seed=cfg.seed, **common)
    elif cfg.algorithm == "random_forest":
        clf = RandomForestClassifier(numTrees=RF_NUM_TREES, seed=cfg.seed, **common)
    elif cfg.algorithm == "logistic_regression":
        clf = LogisticRegression(
            maxIter=cfg.max_iter, regParam=LR_REG_PARAM, family="binomial", **common
        )
    else:
        raise ValueError(f"unknown algorithm {cfg.algorithm!r}")
    # GBTClassifier's constructor does not take these two; every classifier has the setters.
    return clf.setRawPredictionCol(RAW_COL).setProbabilityCol(PROB_COL)


@dataclass(frozen=True)
class FittedStages:
    """The fitted preprocessing and classifier, each by name (the importances read the
    classifier, the attribution the scaled vector)."""

    scaling: FittedScaling
    classifier: Model

    def transform(self, df: DataFrame) -> DataFrame:
        return self.classifier.transform(self.scaling.transform(df))

    def pipeline(self, *after: Transformer) -> PipelineModel:
        """One PipelineModel of every stage (then ``after``): what is saved and scored."""
        return PipelineModel(stages=[*self.scaling.stages, self.classifier, *after])


def fit_stages(data: DataFrame, features: Sequence[str], cfg: ModelConfig) -> FittedStages:
    """Nulls (and NaN, negatives) -> 0, log1p, assemble, standardise, classify.

    log1p tames heavy-tailed counts; standardising is what logistic regression needs and what
    the attribution measures deviations in (trees do not care). The stages are fitted one
    after the other, as ``Pipeline.fit`` does.
    """
    log_cols = [LOG_PREFIX + f for f in features]
    scaling = fit_log_scaling(data, features, log_cols, VECTOR_COL, SCALED_COL)
    return FittedStages(scaling, _classifier(cfg).fit(scaling.transform(data)))


def prior_shift(raw: Column, prevalence: float) -> Column:
    """Bayes' rule from a 50/50 prior (balanced weights) to ``prevalence``."""
    pos = raw * F.lit(float(prevalence))
    return pos / (pos + (F.lit(1.0) - raw) * F.lit(1.0 - float(prevalence)))


def _auc(df: DataFrame, metric: str) -> float:
    evaluator = BinaryClassificationEvaluator(
        rawPredictionCol=PROB_COL, labelCol=LABEL_COL, metricName=metric
    )
    return float(evaluator.evaluate(df))


def _ranking_metrics(df: DataFrame, prefix: str) -> dict[str, float]:
    """Spark's ROC-AUC and its PR-AUC, which is the trapezoidal area under the PR curve (linear
    between points: optimistic next to the step-wise average precision ``botwatch eval``
    reports), hence the ``_trapezoid`` suffix: the two are not comparable."""
    return {
        f"{prefix}_roc_auc": _auc(df, "areaUnderROC"),
        f"{prefix}_pr_auc_trapezoid": _auc(df, "areaUnderPR"),
    }


def _out_of_fold(data: DataFrame, features: Sequence[str], cfg: ModelConfig) -> DataFrame:
    """``label`` and the probability vector of every row, each predicted by a fold model that
    did not train on it."""
    folds = data.randomSplit([1.0] * FOLDS, seed=cfg.seed)
    predicted = []
    for i, held_out in enumerate(folds):
        train = reduce(DataFrame.unionByName, [f for j, f in enumerate(folds) if j != i])
        model = fit_stages(train, features, cfg)
        predicted.append(model.transform(held_out).select(LABEL_COL, PROB_COL))
    return reduce(DataFrame.unionByName, predicted)


def _importance(clf: Model, cfg: ModelConfig) -> tuple[list[float], dict[str, Any]]:
    """Per-feature global importance (non-negative) and what to record about it."""
    if cfg.algorithm == "logistic_regression":
        coefficients = [float(c) for c in clf.coefficients.toArray()]
        extra = {"coefficients": coefficients, "intercept": float(clf.intercept)}
        return [abs(c) for c in coefficients], extra
    return [float(v) for v in clf.featureImportances.toArray()], {}


def _scaled_medians(scored: DataFrame, n: int, rows: int) -> list[float]:
    """Median of each standardised log1p feature over the training rows."""
    arr = vector_to_array(F.col(SCALED_COL))
    cols = scored.select(*[arr[i].alias(f"c{i}") for i in range(n)])
    error = 0.0 if rows <= EXACT_QUANTILE_ROWS else 1e-3
    medians = cols.approxQuantile([f"c{i}" for i in range(n)], [0.5], error)
    return [float(m[0]) if m else 0.0 for m in medians]


def _class_counts(data: DataFrame) -> tuple[int, int, int]:
    row = data.agg(
        F.count(F.when(F.col(LABEL_COL) == 1.0, 1)).alias("pos"),
        F.count(F.when(F.col(LABEL_COL) == 0.0, 1)).alias("neg"),
        F.count(F.lit(1)).alias("rows"),
    ).first()
    return int(row["pos"]), int(row["neg"]), int(row["rows"])


def _labelled(df: DataFrame, features: Sequence[str], label_col: str) -> tuple[DataFrame, int, int]:
    """The rows with a label (as ``LABEL_COL``) and their class counts; a label other than
    1.0 / 0.0 is a ValueError, a missing class StageFailed (nothing to learn from)."""
    labelled = df.select(*features, F.col(label_col).cast("double").alias(LABEL_COL)).where(
        F.col(LABEL_COL).isNotNull()
    )
    positives, negatives, rows = _class_counts(labelled)
    if positives + negatives != rows:
        raise ValueError(
            f"{label_col} must be 1.0, 0.0 or null; {rows - positives - negatives} "
            "rows have another value"
        )
    if positives == 0 or negatives == 0:
        raise StageFailed(
            f"supervised training needs both classes: {positives} positive (bot) and "
            f"{negatives} negative labelled row(s)"
        )
    return labelled, positives, negatives


def _calibration(
    data: DataFrame, features: Sequence[str], cfg: ModelConfig, metrics: dict[str, Any]
) -> tuple[dict[str, Any], list[Transformer]]:
    """How the raw probability is calibrated (``params.calibration``) and the stages that do
    it after the classifier; records the out-of-fold metrics in ``metrics``."""
    positives, rows = metrics["positives"], metrics["rows"]
    if min(positives, metrics["negatives"]) < MIN_CALIBRATION_ROWS:
        metrics.update({"oof_roc_auc": None, "oof_pr_auc_trapezoid": None})
        return {"method": PRIOR_SHIFT, "prevalence": positives / rows}, []
    oof = _out_of_fold(data, features, cfg).persist()
    metrics.update(_ranking_metrics(oof, "oof"))
    isotonic = IsotonicRegression(
        featuresCol=PROB_COL,
        featureIndex=1,
        labelCol=LABEL_COL,
        predictionCol=CALIBRATED_COL,
        isotonic=True,
    ).fit(oof)
    oof.unpersist()
    metrics["calibration_points"] = len(isotonic.boundaries)
    return {"method": ISOTONIC, "folds": FOLDS}, [isotonic]


def _algorithm_params(cfg: ModelConfig) -> dict[str, Any]:
    """The constants of ``_classifier`` that the config does not set."""
    if cfg.algorithm == "random_forest":
        return {"num_trees": RF_NUM_TREES}
    if cfg.algorithm == "logistic_regression":
        return {"reg_param": LR_REG_PARAM}
    return {}


def fit_calibrated(
    df: DataFrame, features: Sequence[str], cfg: ModelConfig, label_col: str
) -> Fitted:
    """Fit the class-weighted classifier on every labelled row of ``df``, calibrated (see the
    module docstring), with its metrics and attribution constants."""
    labelled, positives, negatives = _labelled(df, features, label_col)
    rows = positives + negatives
    class_weights = {"positive": rows / (2.0 * positives), "negative": rows / (2.0 * negatives)}
    weight = F.when(F.col(LABEL_COL) == 1.0, class_weights["positive"]).otherwise(
        class_weights["negative"]
    )
    data = labelled.withColumn(WEIGHT_COL, weight).persist()
    try:
        metrics: dict[str, Any] = {"rows": rows, "positives": positives, "negatives": negatives}
        calibration, calibrate = _calibration(data, features, cfg, metrics)
        final = fit_stages(data, features, cfg)
        in_sample = final.transform(data).persist()
        metrics.update(_ranking_metrics(in_sample, "train"))
        importance, extra = _importance(final.classifier, cfg)
        metrics["importance"] = dict(zip(features, importance, strict=True))
        metrics.update(extra)
        centre = _scaled_medians(in_sample, len(features), rows)
        in_sample.unpersist()
        params = {"class_weights": class_weights, "calibration": calibration}
        return Fitted(
            pipeline=final.pipeline(*calibrate),
            params=params | _algorithm_params(cfg),
            metrics=metrics,
            importance=importance,
            centre=centre,
            profile=explain.feature_profile(data, features),
        )
    finally:
        data.unpersist()
