"""Whether a task met its use case's target: the pass/fail both report files carry.

Kept apart from the rendering so the evaluation protocols can build ``TaskResult`` objects and
tooling can check targets without pulling in markdown or plotting code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spark_jobs.evaluation.metrics import DetectionMetrics, recall_at_fpr
from spark_jobs.evaluation.repeats import CvAggregate, Stat
from spark_jobs.reporting.text import fmt_pct


@dataclass
class TaskResult:
    """One evaluated task; ``labels``/``scores`` (pooled out-of-fold for CV) feed the curves."""

    name: str
    description: str
    metrics: DetectionMetrics
    cv: CvAggregate | None = None
    labels: Sequence[int] | None = None
    scores: Sequence[float] | None = None
    #: e.g. {"max_fpr": 0.02, "min_recall": 0.98} or {"min_pr_auc": 0.90}.
    target: dict[str, float] | None = None


@dataclass(frozen=True)
class TargetCheck:
    criterion: str
    bound: float
    value: float | None
    met: bool | None
    #: CV tasks only: the same test on the mean and on the worst repeat.
    cv_mean: float | None = None
    cv_mean_met: bool | None = None
    cv_worst: float | None = None
    cv_worst_met: bool | None = None


_SIMPLE_TARGETS = {"min_pr_auc": "pr_auc", "min_roc_auc": "roc_auc", "min_f1": "f1"}
_SIMPLE_TARGETS |= {"min_precision": "precision", "min_recall": "recall", "max_fpr": "fpr"}
_LABELS = {"pr_auc": "PR-AUC", "roc_auc": "ROC-AUC", "f1": "F1", "fpr": "FPR"}


def fpr_entry(items: Sequence[Any], max_fpr: float) -> Any:
    """The recall@FPR entry for this budget; budgets are floats from YAML, hence isclose."""
    return next((a for a in items if math.isclose(a.max_fpr, max_fpr)), None)


def _meets(value: float | None, bound: float, higher: bool) -> bool | None:
    if value is None:
        return None
    return value >= bound if higher else value <= bound


def check_target(task: TaskResult) -> list[TargetCheck]:
    """One check per clause; ``max_fpr`` with ``min_recall`` means recall within that budget.

    A budget missing from the computed recall@FPR list is computed from the pooled scores;
    the CV columns stay empty then, as the repeats' scores are gone.
    """
    target = dict(task.target or {})
    unknown = sorted(set(target) - set(_SIMPLE_TARGETS))
    if unknown:
        raise ValueError(f"task {task.name}: unknown target key {unknown[0]!r}")
    m, cv = task.metrics, task.cv
    clauses: list[tuple[str, float, bool, float | None, Stat | None]] = []
    if "max_fpr" in target and "min_recall" in target:
        max_fpr, bound = target.pop("max_fpr"), target.pop("min_recall")
        hit = fpr_entry(m.recall_at_fpr, max_fpr)
        if hit is None and task.labels is not None and task.scores is not None:
            hit = recall_at_fpr(task.labels, task.scores, max_fpr)
        cv_hit = fpr_entry(cv.recall_at_fpr, max_fpr) if cv else None
        text = f"recall at FPR ≤ {fmt_pct(max_fpr)} ≥ {bound:g}"
        clauses.append((text, bound, True, hit and hit.recall, cv_hit and cv_hit.recall))
    for key, bound in target.items():
        name, higher = _SIMPLE_TARGETS[key], key.startswith("min_")
        where = "" if name.endswith("auc") else " at threshold"
        text = f"{_LABELS.get(name, name)}{where} {'≥' if higher else '≤'} {bound:g}"
        clauses.append((text, bound, higher, getattr(m, name), getattr(cv, name, None)))
    checks = []
    for text, bound, higher, value, stat in clauses:
        cv_part = ()
        if stat is not None:
            cv_part = (stat.mean, _meets(stat.mean, bound, higher))
            cv_part += (stat.worst, _meets(stat.worst, bound, higher))
        checks.append(TargetCheck(text, bound, value, _meets(value, bound, higher), *cv_part))
    return checks


def all_met(flags: Sequence[bool | None]) -> bool | None:
    """None (not known) as soon as one clause could not be computed, or there is none."""
    return None if not flags or None in flags else all(flags)
