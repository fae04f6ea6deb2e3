"""Metrics over repeated CV: mean, worst and spread of each figure of ``DetectionMetrics``.

Apart from ``metrics`` because it is about the protocol (how many shuffles, which repeat was
worst), not about one set of scores; ``metrics`` re-exports these names for its callers, so
this module does not import ``metrics`` back (not even for a type hint: no import cycle).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Stat:
    """One metric over CV repeats; ``worst`` is the min, or the max for error rates."""

    mean: float | None
    worst: float | None
    std: float | None
    #: repeats where the metric was defined (``values`` keeps the None ones, in order).
    n: int
    values: list[float | None]


@dataclass(frozen=True)
class FprStat:
    max_fpr: float
    recall: Stat


@dataclass(frozen=True)
class CvAggregate:
    repeats: int
    precision: Stat
    recall: Stat
    f1: Stat
    fpr: Stat
    pr_auc: Stat
    roc_auc: Stat
    recall_at_fpr: list[FprStat]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Scalar metrics aggregated over repeats, and whether lower values are worse.
CV_METRICS = dict.fromkeys(("precision", "recall", "f1", "pr_auc", "roc_auc"), True) | {
    "fpr": False
}


def _stat(values: list[float | None], higher_is_better: bool) -> Stat:
    defined = [float(v) for v in values if v is not None]
    if not defined:
        return Stat(None, None, None, 0, values)
    worst = min(defined) if higher_is_better else max(defined)
    # Sample std: the repeats are a sample of the shuffles that could have been drawn.
    std = statistics.stdev(defined) if len(defined) > 1 else None
    return Stat(statistics.fmean(defined), worst, std, len(defined), values)


def aggregate_repeats(results: Sequence[Any]) -> CvAggregate:
    """Mean, worst and std over repeated CV, one pooled-out-of-fold result per repeat
    (``metrics.DetectionMetrics``).

    The worst repeat is reported next to the mean because a target met on average can still
    fail on an unlucky split, and that spread is what the data size buys.
    """
    if not results:
        raise ValueError("no repeats to aggregate")
    fprs = [a.max_fpr for a in results[0].recall_at_fpr]
    for r in results[1:]:
        if [a.max_fpr for a in r.recall_at_fpr] != fprs:
            raise ValueError("repeats were computed with different max FPRs")
    scalars = {
        name: _stat([getattr(r, name) for r in results], higher)
        for name, higher in CV_METRICS.items()
    }
    at_fpr = [
        FprStat(m, _stat([r.recall_at_fpr[i].recall for r in results], True))
        for i, m in enumerate(fprs)
    ]
    return CvAggregate(repeats=len(results), recall_at_fpr=at_fpr, **scalars)
