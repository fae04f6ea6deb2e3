"""evaluation.md / .json / pr_curves.png from write_report; no Spark needed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from spark_jobs.evaluation.metrics import compute_metrics
from spark_jobs.evaluation.repeats import aggregate_repeats
from spark_jobs.evaluation.report import write_report
from spark_jobs.evaluation.targets import TaskResult, check_target

LABELS = [1, 1, 0, 1, 0, 0]
SCORES = [90, 80, 70, 60, 50, 40]
FPRS = [0.01, 0.34]


def _tasks() -> list[TaskResult]:
    holdout = TaskResult(
        name="holdout",
        description="Toy set; AP 11/12, ROC-AUC 8/9.",
        metrics=compute_metrics(LABELS, SCORES, threshold=60, max_fprs=FPRS),
        labels=LABELS,
        scores=SCORES,
        # Recall at FPR <= 34% is 1.0 (threshold 60).
        target={"max_fpr": 0.34, "min_recall": 0.98},
    )
    repeats = [compute_metrics(LABELS, SCORES, threshold=t, max_fprs=FPRS) for t in (60, 70, 95)]
    cv = TaskResult(
        name="cv | crawlers",
        description="three repeats",
        metrics=repeats[0],
        cv=aggregate_repeats(repeats),
        labels=LABELS * 3,
        scores=SCORES * 3,
        target={"min_pr_auc": 0.90, "min_recall": 0.5},
    )
    humans = TaskResult(
        name="humans only",
        description="",
        metrics=compute_metrics([0, 0, 0], [10, 20, 80], threshold=60, max_fprs=FPRS),
        labels=[0, 0, 0],
        scores=[10, 20, 80],
    )
    return [holdout, cv, humans]


def test_write_report_files(tmp_path):
    meta = {"command": "botwatch eval --x 'a|b'", "date": "2026-01-02", "config": {"k": 1}}
    paths = write_report(tmp_path / "out", "Crawler evaluation", _tasks(), meta)
    assert [p.name for p in paths] == ["evaluation.md", "evaluation.json", "pr_curves.png"]

    doc = json.loads(paths.json.read_text())
    assert doc["title"] == "Crawler evaluation" and doc["meta"] == meta
    holdout, cv, humans = doc["tasks"]
    assert [t["name"] for t in doc["tasks"]] == ["holdout", "cv | crawlers", "humans only"]
    assert holdout["metrics"]["pr_auc"] == pytest.approx(11 / 12)
    assert holdout["metrics"]["roc_auc"] == pytest.approx(8 / 9)
    assert holdout["target_met"] is True
    assert holdout["target_checks"][0]["value"] == 1.0
    assert holdout["curves"]["pr"]["recall"] == pytest.approx([1 / 3, 2 / 3, 2 / 3, 1, 1, 1])
    # Pooled (repeat 0): AP 11/12 >= 0.9 and recall 1 >= 0.5; the third repeat flags
    # nothing, so its recall (0) fails the target in the worst repeat.
    recall_check = cv["target_checks"][1]
    assert (recall_check["cv_mean_met"], recall_check["cv_worst_met"]) == (True, False)
    assert cv["cv"]["repeats"] == 3 and cv["cv"]["recall"]["worst"] == 0.0
    assert humans["metrics"]["pr_auc"] is None and humans["target_met"] is None

    md = paths.markdown.read_text()
    start = md.index("## Summary")
    header, _, *rows = md[start:].split("\n\n")[1].splitlines()
    assert "R@FPR≤1%" in header and "R@FPR≤34%" in header and "PR-AUC" in header
    assert len(rows) == 3
    assert rows[0].startswith("| holdout | 3 | 3 | 33.3% | 0.750 | 1.000 | 0.857 | 0.333 | 0.917 |")
    assert rows[0].endswith("| recall at FPR ≤ 34% ≥ 0.98 | yes |")
    # The pipe in the name is escaped, so the row keeps the header's cell count.
    assert rows[1].startswith(r"| cv \| crawlers |")
    assert "worst 0.000" in rows[1] and rows[1].endswith("| mean yes, worst **no** |")
    assert "| PR-AUC ≥ 0.9; recall at threshold ≥ 0.5 |" in rows[1]
    cells = header.count(" | ")
    assert all(row.replace(r"\|", "").count(" | ") == cells for row in rows)
    assert "| bot | 3 | 0 |" in md and "| not bot | 1 | 2 |" in md
    assert "One false positive = 33.3% FPR" in md and "zero false positives" in md
    assert "pr_auc undefined: no positive (bot) sessions" in md
    assert "botwatch eval --x 'a|b'" in md

    png = paths.png.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_targets():
    holdout = _tasks()[0]
    holdout.target = {"max_fpr": 0.01, "min_recall": 0.9}  # recall at FPR 0 is 2/3
    (check,) = check_target(holdout)
    assert check.met is False and check.value == pytest.approx(2 / 3)
    # A budget not among the computed FPRs is computed from the pooled scores.
    holdout.target = {"max_fpr": 0.5, "min_recall": 0.9}
    assert check_target(holdout)[0].met is True
    holdout.target = {"max_fpr": 0.2}  # FPR at the threshold is 1/3
    assert check_target(holdout)[0].met is False
    holdout.target = {"min_auc": 0.9}
    with pytest.raises(ValueError, match="unknown target key 'min_auc'"):
        check_target(holdout)


def test_import_does_not_load_matplotlib():
    code = "import sys, spark_jobs.evaluation.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_curves_are_thinned_to_a_bounded_number_of_points():
    from spark_jobs.evaluation.report import thin_curve

    curve = {"threshold": list(range(2000)), "recall": [i / 1999 for i in range(2000)]}
    thin = thin_curve(curve, max_points=50)
    assert len(thin["threshold"]) == len(thin["recall"]) == 50
    assert thin["threshold"][0] == 0 and thin["threshold"][-1] == 1999
    assert thin_curve({"x": [1, 2]}, max_points=50) == {"x": [1, 2]}
