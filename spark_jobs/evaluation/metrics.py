"""Detection quality of a use case's scores against labelled sessions, for ``botwatch eval``.

Pure numpy, no Spark: the evaluation collects (label, score) per session to the driver first,
and the tests stay fast. The definitions are scikit-learn's (average precision as the
step-wise sum over distinct scores, ROC-AUC as Mann-Whitney with ties counting half) so the
numbers can be checked against it (tests/evaluation/test_metrics.py does) without making it
a runtime dependency.

Figures that a data set cannot support are ``None`` with the reason in ``undefined`` rather
than 0 or NaN: a 0 would read as "the detector is bad" and a NaN breaks strict JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# Aggregation over CV repeats lives in ``repeats``; callers import it from here.

#: Alert budgets reported by default: operators think in "at most 1/2/5% of humans flagged".
DEFAULT_MAX_FPRS = (0.01, 0.02, 0.05)
#: FPRs are ratios of small integers; this keeps 3/100 <= 0.03 true whatever the rounding.
_FPR_SLACK = 1e-12


@dataclass(frozen=True)
class RecallAtFpr:
    """Best recall whose FPR stays within ``max_fpr``; ``threshold`` None = flag nothing."""

    max_fpr: float
    recall: float | None
    threshold: float | None
    fpr: float | None
    precision: float | None
    tp: int
    fp: int


@dataclass(frozen=True)
class DetectionMetrics:
    threshold: float
    n: int
    positives: int
    negatives: int
    #: FPR of a single false positive (1 / negatives): the resolution of every FPR figure.
    one_fp_fpr: float | None
    tp: int
    fp: int
    tn: int
    fn: int
    precision: float | None
    recall: float | None
    f1: float | None
    fpr: float | None
    #: Average precision (``average_precision``): the step-wise area under the PR curve, the
    #: figure reports and ``--target min_pr_auc`` call PR-AUC. Not the trapezoidal
    #: ``*_pr_auc_trapezoid`` of a supervised model's training metrics, which reads higher.
    pr_auc: float | None
    roc_auc: float | None
    recall_at_fpr: list[RecallAtFpr]
    #: metric name -> why it is None.
    undefined: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PrCurve:
    """One point per distinct score, highest threshold first (the plot adds recall 0)."""

    thresholds: list[float]
    precision: list[float]
    recall: list[float]


@dataclass(frozen=True)
class RocCurve:
    """One point per distinct score, highest threshold first (the plot adds the origin)."""

    thresholds: list[float]
    fpr: list[float]
    tpr: list[float]


def _validate(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=float)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise ValueError(f"labels and scores must be 1-D of equal length: {y.shape} vs {s.shape}")
    nans = int(np.isnan(s).sum())
    if nans:
        raise ValueError(f"{nans} NaN score(s) out of {len(s)}: score every session first")
    if len(y) and not np.isin(y, (0, 1)).all():
        bad = sorted({str(v) for v in y[~np.isin(y, (0, 1))]})[:5]
        raise ValueError(f"labels must be 0 or 1, got {', '.join(bad)}")
    return y.astype(np.int64), s


def _points(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative (threshold, tp, fp) at each distinct score, flagging ``score >= threshold``.

    Tied scores form one point: a threshold cannot separate them, so counting them one by
    one would credit an order that does not exist.
    """
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[np.flatnonzero(s_sorted[1:] != s_sorted[:-1]), len(s_sorted) - 1]
    tps = np.cumsum(y_sorted)[last]
    return s_sorted[last], tps, last + 1 - tps


def _counts(y: np.ndarray) -> tuple[int, int]:
    pos = int(y.sum())
    return pos, len(y) - pos


def _auc_undefined(positives: int, negatives: int) -> str | None:
    if not positives:
        return "no positive (bot) sessions"
    if not negatives:
        return "no negative (not bot) sessions"
    return None


def _average_precision(y: np.ndarray, s: np.ndarray) -> float:
    _, tps, fps = _points(y, s)
    recall = tps / tps[-1]
    precision = tps / (tps + fps)
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def _roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    # 1-based average rank of each tie group: ties count half in Mann-Whitney.
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]
    pos, neg = _counts(y)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def average_precision(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Average precision (sklearn's ``average_precision_score``): precision at each distinct
    score weighted by the recall it adds; None without both classes."""
    y, s = _validate(labels, scores)
    return None if _auc_undefined(*_counts(y)) else _average_precision(y, s)


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """ROC-AUC (probability a bot outscores a human, ties half); None without both classes."""
    y, s = _validate(labels, scores)
    return None if _auc_undefined(*_counts(y)) else _roc_auc(y, s)


def _recall_at_fpr(
    points: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    positives: int,
    negatives: int,
    max_fpr: float,
) -> RecallAtFpr:
    """``points`` from ``_points``; None when a class is missing (nothing to search)."""
    max_fpr = float(max_fpr)
    if not 0.0 <= max_fpr <= 1.0:
        raise ValueError(f"max_fpr must be within [0, 1], got {max_fpr}")
    if points is None or not positives or not negatives:
        return RecallAtFpr(max_fpr, None, None, None, None, 0, 0)
    thresholds, tps, fps = points
    # fps only grows as the threshold falls, so the feasible thresholds are a prefix.
    feasible = np.flatnonzero(fps / negatives <= max_fpr + _FPR_SLACK)
    best_tp = int(tps[feasible[-1]]) if len(feasible) else 0
    if not best_tp:
        return RecallAtFpr(max_fpr, 0.0, None, 0.0, None, 0, 0)
    # Of the thresholds reaching that recall, the highest has the fewest false positives.
    j = int(np.argmax(tps == best_tp))
    tp, fp = int(tps[j]), int(fps[j])
    return RecallAtFpr(
        max_fpr, tp / positives, float(thresholds[j]), fp / negatives, tp / (tp + fp), tp, fp
    )


def recall_at_fpr(labels: Sequence[int], scores: Sequence[float], max_fpr: float) -> RecallAtFpr:
    """Best recall over thresholds at distinct scores with FPR <= ``max_fpr``."""
    y, s = _validate(labels, scores)
    pos, neg = _counts(y)
    return _recall_at_fpr(_points(y, s) if pos and neg else None, pos, neg, max_fpr)


def compute_metrics(
    labels: Sequence[int],
    scores: Sequence[float],
    threshold: float,
    max_fprs: Sequence[float] = DEFAULT_MAX_FPRS,
) -> DetectionMetrics:
    """Everything ``botwatch eval`` reports for one task, flagging ``score >= threshold``."""
    y, s = _validate(labels, scores)
    threshold = float(threshold)
    if np.isnan(threshold):
        raise ValueError("threshold is NaN")
    pos, neg = _counts(y)
    flagged = s >= threshold
    tp = int((flagged & (y == 1)).sum())
    fp = int(flagged.sum()) - tp
    undefined: dict[str, str] = {}
    if tp + fp:
        precision = tp / (tp + fp)
    else:
        precision = None
        undefined["precision"] = "no session scored at or above the threshold"
    recall = tp / pos if pos else None
    f1 = 2 * tp / (2 * tp + fp + (pos - tp)) if pos else None
    if not pos:
        undefined["recall"] = undefined["f1"] = "no positive (bot) sessions"
    fpr = fp / neg if neg else None
    if not neg:
        undefined["fpr"] = "no negative (not bot) sessions"
    reason = _auc_undefined(pos, neg)
    if reason:
        pr_auc = roc = None
        undefined["pr_auc"] = undefined["roc_auc"] = undefined["recall_at_fpr"] = reason
        at_fpr = [_recall_at_fpr(None, pos, neg, m) for m in max_fprs]
    else:
        pr_auc, roc = _average_precision(y, s), _roc_auc(y, s)
        points = _points(y, s)
        at_fpr = [_recall_at_fpr(points, pos, neg, m) for m in max_fprs]
    return DetectionMetrics(
        threshold=threshold,
        n=len(y),
        positives=pos,
        negatives=neg,
        one_fp_fpr=1 / neg if neg else None,
        tp=tp,
        fp=fp,
        tn=neg - fp,
        fn=pos - tp,
        precision=precision,
        recall=recall,
        f1=f1,
        fpr=fpr,
        pr_auc=pr_auc,
        roc_auc=roc,
        recall_at_fpr=at_fpr,
        undefined=undefined,
    )


def pr_curve(labels: Sequence[int], scores: Sequence[float]) -> PrCurve:
    """Precision/recall per distinct score; empty without positives (recall undefined)."""
    y, s = _validate(labels, scores)
    if not y.sum():
        return PrCurve([], [], [])
    thresholds, tps, fps = _points(y, s)
    return PrCurve(thresholds.tolist(), (tps / (tps + fps)).tolist(), (tps / tps[-1]).tolist())


def roc_curve(labels: Sequence[int], scores: Sequence[float]) -> RocCurve:
    """FPR/TPR per distinct score; empty without both classes."""
    y, s = _validate(labels, scores)
    if _auc_undefined(*_counts(y)):
        return RocCurve([], [], [])
    thresholds, tps, fps = _points(y, s)
    return RocCurve(thresholds.tolist(), (fps / fps[-1]).tolist(), (tps / tps[-1]).tolist())
