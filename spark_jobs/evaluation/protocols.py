"""How ``botwatch eval`` fits and scores models without ever scoring a session it trained on.

Two protocols, both through the jobs' own code (``session_features``, ``labels``, the model
kinds' ``fit``/``score``):

* ``cv``: repeated stratified k-fold over the labelled sessions. Each repeat pools the
  out-of-fold scores of its folds into one result; the report gives the mean and the worst
  repeat. Suited to small labelled sets (Iliou: 65-85 sessions).
* ``time``: train on sessions that started before a date, test on those after: what a deployed
  model faces (it never sees the future), suited to months of weakly labelled logs.

A kind that does not learn from labels (the unsupervised ensemble) is fit on every training
session, labelled or not (labels are for the metrics only); one that does (supervised) only on
the labelled training sessions. Scores are the kinds' 0-100 ``score``; the ranking metrics are
``evaluation.metrics``' (average precision, not the trapezoidal PR-AUC of training metadata).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.config.model import ModelConfig
from spark_jobs.evaluation.metrics import DetectionMetrics, compute_metrics
from spark_jobs.evaluation.repeats import aggregate_repeats
from spark_jobs.evaluation.splits import repeated_stratified_kfold
from spark_jobs.evaluation.targets import TaskResult
from spark_jobs.models.kinds import model_kind

log = logging.getLogger("botwatch")


@dataclass
class Scored:
    """Out-of-sample labels and scores of one repeat (or of the single time split)."""

    sessions: list[str]
    labels: list[int]
    scores: list[float]


def scored(model, test: DataFrame) -> Scored:
    """A fitted model's scores of the labelled rows ``test``, collected."""
    rows = model.score(test).select("session", "label", "score").collect()
    return Scored(
        sessions=[r["session"] for r in rows],
        labels=[int(r["label"]) for r in rows],
        scores=[float(r["score"]) for r in rows],
    )


def _fit_score(
    train: DataFrame, test: DataFrame, features: Sequence[str], cfg: ModelConfig
) -> Scored:
    return scored(model_kind(cfg.kind).fit(train, features, cfg), test)


def _training_pool(sessions: DataFrame, labelled: DataFrame, cfg: ModelConfig) -> DataFrame:
    """What the kind fits on: the labelled sessions if it learns from labels, else all."""
    return labelled if model_kind(cfg.kind).learns_from_labels else sessions


def _training_rows(
    sessions: DataFrame, labelled: DataFrame, test_keys: DataFrame, cfg: ModelConfig
) -> DataFrame:
    """The training pool's sessions that are not in the test set."""
    return _training_pool(sessions, labelled, cfg).join(test_keys, "session", "left_anti")


def cross_validate(
    sessions: DataFrame,
    labelled: DataFrame,
    features: Sequence[str],
    cfg: ModelConfig,
    folds: int,
    repeats: int,
    seed: int,
) -> list[Scored]:
    """One pooled out-of-fold result per repeat."""
    spark = labelled.sparkSession
    pairs = labelled.select("session", "label").collect()
    keys = [r["session"] for r in pairs]
    classes = [int(r["label"]) for r in pairs]
    results = []
    for r, repeat in enumerate(repeated_stratified_kfold(keys, classes, folds, repeats, seed)):
        pooled = Scored([], [], [])
        for f, (_, test) in enumerate(repeat):
            test_keys = F.broadcast(spark.createDataFrame([(k,) for k in test], "session string"))
            train_rows = _training_rows(sessions, labelled, test_keys, cfg)
            test_rows = labelled.join(test_keys, "session", "left_semi")
            part = _fit_score(train_rows, test_rows, features, cfg)
            pooled.sessions += part.sessions
            pooled.labels += part.labels
            pooled.scores += part.scores
            log.info("repeat %d fold %d: %d test sessions scored", r + 1, f + 1, len(part.labels))
        results.append(pooled)
    return results


def time_split(
    sessions: DataFrame,
    labelled: DataFrame,
    features: Sequence[str],
    cfg: ModelConfig,
    split_at: datetime,
) -> list[Scored]:
    """Train before ``split_at``, test on labelled sessions that start at or after it."""
    before = F.col("session_start") < F.lit(split_at)
    train = _training_pool(sessions, labelled, cfg).where(before)
    test = labelled.where(~before)
    return [_fit_score(train, test, features, cfg)]


def task_result(
    name: str,
    description: str,
    results: Sequence[Scored],
    threshold: float,
    max_fprs: Sequence[float],
    target: dict[str, float] | None,
) -> TaskResult:
    """Metrics over every repeat pooled (each session counted once per repeat), and for more
    than one repeat the mean / worst over repeats."""
    per_repeat: list[DetectionMetrics] = [
        compute_metrics(s.labels, s.scores, threshold, max_fprs) for s in results
    ]
    labels = [y for s in results for y in s.labels]
    scores = [x for s in results for x in s.scores]
    pooled = (
        per_repeat[0] if len(results) == 1 else compute_metrics(labels, scores, threshold, max_fprs)
    )
    return TaskResult(
        name=name,
        description=description,
        metrics=pooled,
        cv=aggregate_repeats(per_repeat) if len(results) > 1 else None,
        labels=labels,
        scores=scores,
        target=target,
    )
