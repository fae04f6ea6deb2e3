"""The files ``botwatch eval`` leaves behind: evaluation.md, evaluation.json, pr_curves.png.

The markdown (``evaluation.markdown``) is for people deciding whether a use case is good
enough; the JSON carries the same numbers plus the curves for tooling and for comparing runs.
matplotlib is imported only when the figure is drawn: it costs a second and the CLI must stay
quick to start. ``TaskResult``, ``TargetCheck`` and ``check_target`` live in
``evaluation.targets`` and are re-exported here for callers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

from spark_jobs.evaluation.markdown import render_markdown
from spark_jobs.evaluation.metrics import average_precision, pr_curve, roc_auc, roc_curve
from spark_jobs.evaluation.targets import TaskResult, all_met, check_target
from spark_jobs.reporting.text import fmt_fixed


class ReportPaths(NamedTuple):
    markdown: Path
    json: Path
    png: Path


def _plot(path: Path, tasks: Sequence[TaskResult], fprs: list[float]) -> None:
    # Figure + Agg canvas directly: no pyplot state and no backend switch in a host process.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5), layout="constrained")
    FigureCanvasAgg(fig)
    pr_ax, roc_ax = fig.subplots(1, 2)
    for t in tasks:
        if t.labels is None or t.scores is None:
            continue
        pr = pr_curve(t.labels, t.scores)
        if pr.recall:
            label = f"{t.name} (AP {fmt_fixed(average_precision(t.labels, t.scores))})"
            # steps-pre: the precision of each point holds over the recall it added, as in AP.
            (line,) = pr_ax.plot(
                [0.0, *pr.recall], [1.0, *pr.precision], drawstyle="steps-pre", label=label
            )
            m = t.metrics
            if m.recall is not None and m.precision is not None:
                pr_ax.plot(m.recall, m.precision, "o", color=line.get_color())
        roc = roc_curve(t.labels, t.scores)
        if roc.fpr:
            auc = roc_auc(t.labels, t.scores)
            roc_ax.plot([0.0, *roc.fpr], [0.0, *roc.tpr], label=f"{t.name} (AUC {fmt_fixed(auc)})")
    for f in fprs:
        roc_ax.axvline(f, color="grey", linestyle=":", linewidth=0.8)
    pr_ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.02))
    pr_ax.set_title("Precision-recall (dot: alert threshold)")
    roc_ax.set(xlabel="false positive rate", ylabel="recall (TPR)", xlim=(0, 1), ylim=(0, 1.02))
    roc_ax.set_title("ROC (dotted: FPR budgets)")
    for ax in (pr_ax, roc_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower left" if ax is pr_ax else "lower right", fontsize="small")
        else:
            ax.text(0.5, 0.5, "no task with both classes", ha="center", transform=ax.transAxes)
    fig.savefig(path, dpi=110)


#: Points kept per curve in evaluation.json (a curve has one point per distinct score).
MAX_CURVE_POINTS = 500


def thin_curve(curve: dict[str, list], max_points: int = MAX_CURVE_POINTS) -> dict[str, list]:
    """Every column of ``curve`` at evenly spaced indices, first and last kept: enough to
    redraw it, without megabytes of JSON for a run over 100k sessions."""
    n = len(next(iter(curve.values()), []))
    if n <= max_points:
        return curve
    keep = sorted({round(i * (n - 1) / (max_points - 1)) for i in range(max_points)})
    return {key: [values[i] for i in keep] for key, values in curve.items()}


def _task_json(t: TaskResult) -> dict[str, Any]:
    checks = check_target(t)
    curves = None
    if t.labels is not None and t.scores is not None:
        curves = {
            "pr": thin_curve(asdict(pr_curve(t.labels, t.scores))),
            "roc": thin_curve(asdict(roc_curve(t.labels, t.scores))),
        }
    return {
        "name": t.name,
        "description": t.description,
        "target": t.target,
        "target_checks": [asdict(c) for c in checks],
        "target_met": all_met([c.met for c in checks]),
        "metrics": t.metrics.to_dict(),
        "cv": t.cv.to_dict() if t.cv else None,
        "curves": curves,
    }


def write_report(
    out_dir: str | Path,
    title: str,
    tasks: Sequence[TaskResult | dict[str, Any]],
    meta: dict[str, Any],
) -> ReportPaths:
    """Write evaluation.md, evaluation.json and pr_curves.png into ``out_dir`` (created)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out / "evaluation.md", out / "evaluation.json", out / "pr_curves.png")
    items = [t if isinstance(t, TaskResult) else TaskResult(**t) for t in tasks]
    fprs = sorted({a.max_fpr for t in items for a in t.metrics.recall_at_fpr})
    markdown = render_markdown(title, items, fprs, meta, paths.png.name)
    paths.markdown.write_text(markdown, encoding="utf-8")
    doc = {"title": title, "meta": meta, "tasks": [_task_json(t) for t in items]}
    paths.json.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    _plot(paths.png, items, fprs)
    return paths
