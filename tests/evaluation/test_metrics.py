"""Evaluation metrics against hand-computed values and against scikit-learn; no Spark needed.

scikit-learn is a dev dependency only: ``evaluation.metrics`` reimplements its definitions so
the runtime does not need it, and these tests hold the two together on random data with ties.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from sklearn import metrics as skm

from spark_jobs.evaluation.metrics import (
    average_precision,
    compute_metrics,
    pr_curve,
    recall_at_fpr,
    roc_auc,
    roc_curve,
)
from spark_jobs.evaluation.repeats import aggregate_repeats

# Sorted by score already. Flagging score >= t at each distinct score:
#   t   tp fp  precision recall  fpr
#   90   1  0    1        1/3    0
#   80   2  0    1        2/3    0
#   70   2  1    2/3      2/3    1/3
#   60   3  1    3/4      1      1/3
#   50   3  2    3/5      1      2/3
#   40   3  3    1/2      1      1
LABELS = [1, 1, 0, 1, 0, 0]
SCORES = [90, 80, 70, 60, 50, 40]
# AP = sum (R_n - R_{n-1}) P_n = 1/3*1 + 1/3*1 + 0*2/3 + 1/3*3/4 + 0 + 0 = 11/12.
AP = 11 / 12
# Bot-over-human pairs: 90 and 80 beat all 3 humans, 60 beats 50 and 40: 8 of 9.
ROC = 8 / 9


def test_toy_set_at_threshold_60():
    m = compute_metrics(LABELS, SCORES, threshold=60, max_fprs=[0.01, 0.34, 0.5])
    assert (m.tp, m.fp, m.tn, m.fn) == (3, 1, 2, 0)
    assert (m.n, m.positives, m.negatives) == (6, 3, 3)
    assert m.precision == pytest.approx(3 / 4)
    assert m.recall == pytest.approx(1.0)
    # F1 = 2PR / (P + R) = 1.5 / 1.75 = 6/7 = 2tp / (2tp + fp + fn).
    assert m.f1 == pytest.approx(6 / 7)
    assert m.fpr == pytest.approx(1 / 3)
    assert m.one_fp_fpr == pytest.approx(1 / 3)
    assert m.pr_auc == pytest.approx(AP)
    assert m.roc_auc == pytest.approx(ROC)
    assert m.undefined == {}
    strict, third, half = m.recall_at_fpr
    # FPR <= 1% with 3 humans means no false positive: best is t=80, recall 2/3.
    assert (strict.max_fpr, strict.threshold, strict.fp, strict.tp) == (0.01, 80, 0, 2)
    assert strict.recall == pytest.approx(2 / 3)
    assert strict.fpr == 0 and strict.precision == 1
    # One false positive allowed: t=60 catches all bots at FPR 1/3 (t=70 has the same FPR
    # but less recall; t=50 costs a second false positive).
    for hit in (third, half):
        assert hit.threshold == 60 and hit.recall == 1 and hit.fpr == pytest.approx(1 / 3)
        assert hit.precision == pytest.approx(3 / 4)
    json.dumps(m.to_dict(), allow_nan=False)


def test_toy_set_at_threshold_70():
    m = compute_metrics(LABELS, SCORES, threshold=70)
    assert (m.tp, m.fp, m.tn, m.fn) == (2, 1, 2, 1)
    assert m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(2 / 3)
    # 2*2 / (2*2 + 1 + 1) = 2/3.
    assert m.f1 == pytest.approx(2 / 3)
    assert [a.max_fpr for a in m.recall_at_fpr] == [0.01, 0.02, 0.05]


def test_fpr_exactly_at_budget_counts_as_within():
    # 1 FP of 3 humans is exactly 1/3: floating point must not push it over.
    assert recall_at_fpr(LABELS, SCORES, 1 / 3).recall == 1.0
    # A budget no threshold meets: flag nothing.
    hit = recall_at_fpr([0, 1], [90, 10], 0.0)
    assert (hit.recall, hit.threshold, hit.fpr, hit.precision) == (0.0, None, 0.0, None)


def test_ties_form_one_threshold():
    labels, scores = [1, 0, 1, 0, 1], [80, 80, 50, 50, 20]
    # t=80: tp1 fp1 (P 1/2, R 1/3); t=50: tp2 fp2 (P 1/2, R 2/3); t=20: tp3 fp2 (P 3/5, R 1).
    # AP = (1/2 + 1/2 + 3/5) / 3 = 8/15.
    assert average_precision(labels, scores) == pytest.approx(8 / 15)
    # Pairs: bot 80 ties human 80 (1/2), beats 50 (1); bot 50 ties 50 (1/2); bot 20: 0.
    # (1/2 + 1 + 1/2) / 6 = 1/3.
    assert roc_auc(labels, scores) == pytest.approx(1 / 3)
    # Within FPR 1/2 only t=80 (one human of two): recall 1/3.
    hit = recall_at_fpr(labels, scores, 0.5)
    assert (hit.threshold, hit.fp) == (80, 1) and hit.recall == pytest.approx(1 / 3)


def test_all_scores_equal():
    m = compute_metrics([1, 0, 1], [5, 5, 5], threshold=5, max_fprs=[0.5])
    # One threshold flagging everything: precision = prevalence, and it is the only step.
    assert m.pr_auc == pytest.approx(2 / 3)
    assert m.roc_auc == pytest.approx(0.5)
    assert m.recall_at_fpr[0].recall == 0.0 and m.recall_at_fpr[0].threshold is None
    assert compute_metrics([1, 0, 1], [5, 5, 5], threshold=6).precision is None


def test_no_positives():
    m = compute_metrics([0, 0, 0], [10, 50, 90], threshold=50)
    assert (m.tp, m.fp, m.tn, m.fn) == (0, 2, 1, 0)
    assert m.precision == 0.0 and m.fpr == pytest.approx(2 / 3)
    assert m.recall is None and m.f1 is None
    assert m.pr_auc is None and m.roc_auc is None
    assert "no positive" in m.undefined["pr_auc"] and "no positive" in m.undefined["roc_auc"]
    assert all(a.recall is None for a in m.recall_at_fpr)
    assert pr_curve([0, 0], [1, 2]).recall == [] and roc_curve([0, 0], [1, 2]).fpr == []
    json.dumps(m.to_dict(), allow_nan=False)


def test_no_negatives_and_empty():
    m = compute_metrics([1, 1], [10, 90], threshold=50)
    assert m.recall == 0.5 and m.precision == 1.0
    assert m.fpr is None and m.one_fp_fpr is None and m.roc_auc is None
    assert "no negative" in m.undefined["roc_auc"]
    empty = compute_metrics([], [], threshold=50)
    assert empty.n == 0 and empty.pr_auc is None and empty.precision is None


def test_invalid_input():
    with pytest.raises(ValueError, match="2 NaN score"):
        compute_metrics([1, 0, 1], [float("nan"), 3, float("nan")], threshold=50)
    with pytest.raises(ValueError, match="0 or 1"):
        compute_metrics([1, 2], [3, 4], threshold=50)
    with pytest.raises(ValueError, match="equal length"):
        compute_metrics([1, 0], [3], threshold=50)
    with pytest.raises(ValueError, match="max_fpr"):
        recall_at_fpr(LABELS, SCORES, 1.5)


def test_curves_on_toy_set():
    pr = pr_curve(LABELS, SCORES)
    assert pr.thresholds == [90, 80, 70, 60, 50, 40]
    assert pr.recall == pytest.approx([1 / 3, 2 / 3, 2 / 3, 1, 1, 1])
    assert pr.precision == pytest.approx([1, 1, 2 / 3, 3 / 4, 3 / 5, 1 / 2])
    roc = roc_curve(LABELS, SCORES)
    assert roc.fpr == pytest.approx([0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    assert roc.tpr == pytest.approx([1 / 3, 2 / 3, 2 / 3, 1, 1, 1])


def _reference(labels, scores):
    """Definitions spelled out: AP over distinct thresholds, AUC over all pairs."""
    pos = sum(labels)
    ap, prev_recall = 0.0, 0.0
    for t in sorted(set(scores), reverse=True):
        tp = sum(1 for y, s in zip(labels, scores, strict=True) if s >= t and y)
        flagged = sum(1 for s in scores if s >= t)
        ap += (tp / pos - prev_recall) * tp / flagged
        prev_recall = tp / pos
    bots = [s for y, s in zip(labels, scores, strict=True) if y]
    humans = [s for y, s in zip(labels, scores, strict=True) if not y]
    wins = sum(1.0 if b > h else 0.5 if b == h else 0.0 for b, h in itertools.product(bots, humans))
    return ap, wins / (len(bots) * len(humans))


def test_matches_reference_on_random_tied_scores():
    rng = np.random.default_rng(7)
    for _ in range(20):
        labels = rng.integers(0, 2, 40).tolist()
        labels[:2] = [0, 1]
        scores = rng.integers(0, 12, 40).astype(float).tolist()
        ap, auc = _reference(labels, scores)
        assert average_precision(labels, scores) == pytest.approx(ap)
        assert roc_auc(labels, scores) == pytest.approx(auc)


def test_aggregate_repeats_mean_worst_std():
    a = compute_metrics(LABELS, SCORES, threshold=60, max_fprs=[0.01])  # recall 1, fpr 1/3
    b = compute_metrics(LABELS, SCORES, threshold=70, max_fprs=[0.01])  # recall 2/3, fpr 1/3
    c = compute_metrics(LABELS, SCORES, threshold=95, max_fprs=[0.01])  # recall 0, nothing flagged
    agg = aggregate_repeats([a, b, c])
    assert agg.repeats == 3
    assert agg.recall.mean == pytest.approx(5 / 9) and agg.recall.worst == 0.0
    assert agg.recall.std == pytest.approx(np.std([1, 2 / 3, 0], ddof=1))
    # Precision is undefined when nothing is flagged: left out, and counted.
    assert agg.precision.n == 2 and agg.precision.values[2] is None
    assert agg.precision.mean == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert agg.precision.worst == pytest.approx(2 / 3)
    # FPR is an error rate: its worst repeat is the highest.
    assert agg.fpr.worst == pytest.approx(1 / 3) and agg.fpr.mean == pytest.approx(2 / 9)
    assert agg.pr_auc.std == pytest.approx(0.0) and agg.pr_auc.worst == pytest.approx(AP)
    (at,) = agg.recall_at_fpr
    assert at.max_fpr == 0.01 and at.recall.mean == pytest.approx(2 / 3)
    single = aggregate_repeats([a])
    assert single.recall.std is None and single.recall.worst == 1.0
    json.dumps(agg.to_dict(), allow_nan=False)
    with pytest.raises(ValueError, match="no repeats"):
        aggregate_repeats([])
    with pytest.raises(ValueError, match="different max FPRs"):
        aggregate_repeats([a, compute_metrics(LABELS, SCORES, threshold=60)])


# ---------------------------------------------------------------- against scikit-learn


def _random_sets(n_sets: int = 60):
    """Label/score sets with many ties (few distinct scores), both classes, varied sizes and
    prevalence, some on the 0-100 score scale and some as raw floats."""
    rng = np.random.default_rng(20150517)
    for i in range(n_sets):
        n = int(rng.integers(2, 300))
        prevalence = rng.uniform(0.02, 0.98)
        labels = (rng.random(n) < prevalence).astype(int)
        labels[:2] = [0, 1]
        if i % 3 == 0:
            scores = rng.normal(size=n) + labels  # no ties but informative
        else:
            levels = int(rng.integers(1, 15))
            scores = rng.integers(0, levels, n) * 100.0 / max(levels - 1, 1)
        yield labels.tolist(), scores.tolist()


def test_average_precision_and_roc_auc_match_sklearn():
    for labels, scores in _random_sets():
        assert average_precision(labels, scores) == pytest.approx(
            skm.average_precision_score(labels, scores), abs=1e-12
        )
        assert roc_auc(labels, scores) == pytest.approx(
            skm.roc_auc_score(labels, scores), abs=1e-12
        )


def test_curves_match_sklearn():
    for labels, scores in _random_sets():
        # sklearn: ascending thresholds, plus a final (precision 1, recall 0) point.
        precision, recall, thresholds = skm.precision_recall_curve(labels, scores)
        pr = pr_curve(labels, scores)
        assert pr.thresholds == pytest.approx(thresholds[::-1].tolist())
        assert pr.precision == pytest.approx(precision[:-1][::-1].tolist())
        assert pr.recall == pytest.approx(recall[:-1][::-1].tolist())
        # sklearn: a first point at threshold +inf (the origin), which our plot adds itself.
        fpr, tpr, thresholds = skm.roc_curve(labels, scores, drop_intermediate=False)
        roc = roc_curve(labels, scores)
        assert roc.thresholds == pytest.approx(thresholds[1:].tolist())
        assert roc.fpr == pytest.approx(fpr[1:].tolist())
        assert roc.tpr == pytest.approx(tpr[1:].tolist())


def test_recall_at_fpr_is_the_best_point_of_sklearns_roc_curve():
    for labels, scores in _random_sets():
        fpr, tpr, thresholds = skm.roc_curve(labels, scores, drop_intermediate=False)
        negatives = len(labels) - sum(labels)
        for max_fpr in (0.0, 0.01, 0.05, 0.2, 1 / 3, 1.0):
            hit = recall_at_fpr(labels, scores, max_fpr)
            feasible = fpr <= max_fpr + 1e-12
            best = float(tpr[feasible].max())
            assert hit.recall == pytest.approx(best)
            if best == 0.0:
                assert hit.threshold is None and hit.fp == 0
                continue
            # The highest threshold reaching that recall, i.e. its fewest false positives.
            j = int(np.flatnonzero(feasible & (tpr == best))[0])
            assert hit.threshold == thresholds[j]
            assert hit.fpr == pytest.approx(fpr[j]) and hit.fp == round(fpr[j] * negatives)


def test_counts_at_threshold_match_sklearn():
    for labels, scores in _random_sets():
        for threshold in (0.0, 50.0, float(np.median(scores)), max(scores) + 1):
            m = compute_metrics(labels, scores, threshold, max_fprs=[])
            flagged = (np.asarray(scores) >= threshold).astype(int)
            tn, fp, fn, tp = skm.confusion_matrix(labels, flagged, labels=[0, 1]).ravel()
            assert (m.tp, m.fp, m.tn, m.fn) == (tp, fp, tn, fn)
            assert m.recall == pytest.approx(skm.recall_score(labels, flagged))
            assert m.f1 == pytest.approx(skm.f1_score(labels, flagged, zero_division=0.0))
            if tp + fp:
                assert m.precision == pytest.approx(skm.precision_score(labels, flagged))
            else:  # sklearn says 0 (or warns); we say undefined, with the reason
                assert m.precision is None and "precision" in m.undefined
            assert m.fpr == pytest.approx(fp / (fp + tn))
