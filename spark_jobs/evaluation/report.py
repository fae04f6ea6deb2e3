"""The files ``botwatch eval`` leaves behind: evaluation.md, evaluation.json, pr_curves.png.

The markdown is for people deciding whether a use case is good enough (one summary row per
task, targets met or not, where the FPRs are too coarse to trust); the JSON carries the same
numbers plus the curves for tooling and for comparing runs. matplotlib is imported only when
the figure is drawn: it costs a second and the CLI must stay quick to start.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

from spark_jobs.evaluation.metrics import (
    CvAggregate,
    DetectionMetrics,
    Stat,
    average_precision,
    pr_curve,
    recall_at_fpr,
    roc_auc,
    roc_curve,
)

DASH = "–"


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


class ReportPaths(NamedTuple):
    markdown: Path
    json: Path
    png: Path


_SIMPLE_TARGETS = {"min_pr_auc": "pr_auc", "min_roc_auc": "roc_auc", "min_f1": "f1"}
_SIMPLE_TARGETS |= {"min_precision": "precision", "min_recall": "recall", "max_fpr": "fpr"}
_LABELS = {"pr_auc": "PR-AUC", "roc_auc": "ROC-AUC", "f1": "F1", "fpr": "FPR"}


def _fpr_entry(items: Sequence[Any], max_fpr: float) -> Any:
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
        hit = _fpr_entry(m.recall_at_fpr, max_fpr)
        if hit is None and task.labels is not None and task.scores is not None:
            hit = recall_at_fpr(task.labels, task.scores, max_fpr)
        cv_hit = _fpr_entry(cv.recall_at_fpr, max_fpr) if cv else None
        text = f"recall at FPR ≤ {_pct(max_fpr)} ≥ {bound:g}"
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


def _all_met(flags: Sequence[bool | None]) -> bool | None:
    return None if not flags or None in flags else all(flags)


def _cell(text: Any) -> str:
    """A table cell: a ``|`` would end the cell, a newline the row."""
    return " ".join(str(text).split()).replace("|", r"\|")


def _num(value: float | None, digits: int = 3) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.3g}%"


def _yes(flag: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[flag]


def _both(value: float | None, stat: Stat | None) -> str:
    if stat is None:
        return _num(value)
    return f"{_num(stat.mean)} (worst {_num(stat.worst)})"


def _summary(tasks: Sequence[TaskResult], fprs: list[float]) -> list[str]:
    head = ["Task", "Bots", "Not bots", "1 FP =", "Precision", "Recall", "F1", "FPR", "PR-AUC"]
    head += ["ROC-AUC", *(f"R@FPR≤{_pct(f)}" for f in fprs), "Target", "Met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in tasks:
        m, cv = t.metrics, t.cv
        row = [_cell(t.name), str(m.positives), str(m.negatives), _pct(m.one_fp_fpr)]
        for name in ("precision", "recall", "f1", "fpr", "pr_auc", "roc_auc"):
            row.append(_both(getattr(m, name), getattr(cv, name) if cv else None))
        for f in fprs:
            hit = _fpr_entry(m.recall_at_fpr, f)
            stat = _fpr_entry(cv.recall_at_fpr, f) if cv else None
            row.append(_both(hit.recall, stat.recall if stat else None) if hit else DASH)
        checks = check_target(t)
        row.append(_cell("; ".join(c.criterion for c in checks)) or DASH)
        if not checks:
            row.append(DASH)
        elif cv:
            mean = _yes(_all_met([c.cv_mean_met for c in checks]))
            row.append(f"mean {mean}, worst {_yes(_all_met([c.cv_worst_met for c in checks]))}")
        else:
            row.append(_yes(_all_met([c.met for c in checks])))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _task_section(t: TaskResult) -> list[str]:
    m = t.metrics
    out = [f"### {t.name}", "", t.description, ""] if t.description else [f"### {t.name}", ""]
    out.append(
        f"{m.n} sessions: {m.positives} bots, {m.negatives} not bots; flagged when "
        f"score ≥ {m.threshold:g}. One false positive = {_pct(m.one_fp_fpr)} FPR."
    )
    coarse = [a.max_fpr for a in m.recall_at_fpr if m.one_fp_fpr and m.one_fp_fpr > a.max_fpr]
    if coarse:
        out.append(
            f"With so few negatives, FPR ≤ {', '.join(map(_pct, coarse))} means "
            "zero false positives: treat those recalls as rough."
        )
    out += ["", "| | flagged | not flagged |", "|---|---|---|"]
    out += [f"| bot | {m.tp} | {m.fn} |", f"| not bot | {m.fp} | {m.tn} |", ""]
    if m.recall_at_fpr:
        out += ["| max FPR | recall | threshold | actual FPR | false positives | precision |"]
        out += ["|---|---|---|---|---|---|"]
        for a in m.recall_at_fpr:
            thr = DASH if a.threshold is None else f"{a.threshold:g}"
            out.append(
                f"| {_pct(a.max_fpr)} | {_num(a.recall)} | {thr} | {_pct(a.fpr)} | {a.fp} "
                f"| {_num(a.precision)} |"
            )
        out.append("")
    if t.cv:
        out += [f"Cross-validation, {t.cv.repeats} repeats:", ""]
        out += ["| metric | mean | worst | std |", "|---|---|---|---|"]
        rows = [(n, getattr(t.cv, n)) for n in ("precision", "recall", "f1", "fpr", "pr_auc")]
        rows.append(("roc_auc", t.cv.roc_auc))
        rows += [(f"recall@FPR≤{_pct(a.max_fpr)}", a.recall) for a in t.cv.recall_at_fpr]
        for name, s in rows:
            out.append(f"| {name} | {_num(s.mean)} | {_num(s.worst)} | {_num(s.std)} |")
        out.append("")
    for c in check_target(t):
        line = f"- Target {c.criterion}: {_num(c.value)} → {_yes(c.met)}"
        if c.cv_mean is not None or c.cv_worst is not None:
            line += f"; CV mean {_num(c.cv_mean)} → {_yes(c.cv_mean_met)}"
            line += f", worst {_num(c.cv_worst)} → {_yes(c.cv_worst_met)}"
        out.append(line)
    out += [f"- {name} undefined: {why}" for name, why in m.undefined.items()]
    return [*out, ""]


def _meta_section(meta: dict[str, Any]) -> list[str]:
    out = ["## Run", ""]
    for key, value in meta.items():
        if isinstance(value, dict | list | tuple):
            out += ["", f"**{key}**:", "", "```json", json.dumps(value, indent=2, default=str)]
            out += ["```", ""]
        else:
            out.append(f"- **{key}**: {value}")
    return [*out, ""]


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
            label = f"{t.name} (AP {_num(average_precision(t.labels, t.scores))})"
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
            roc_ax.plot([0.0, *roc.fpr], [0.0, *roc.tpr], label=f"{t.name} (AUC {_num(auc)})")
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
        "target_met": _all_met([c.met for c in checks]),
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
    md = [f"# {title}", ""]
    if meta.get("date"):
        md += [f"Evaluated {meta['date']}.", ""]
    md += ["## Summary", "", *_summary(items, fprs), ""]
    md.append(
        "Precision, recall and F1 are at the use case's alert threshold. R@FPR≤x: the best "
        "recall with at most x of the non-bot sessions flagged. Cross-validated tasks show the "
        "mean over repeats and the worst repeat. 1 FP =: the FPR of a single false positive."
    )
    md += ["", f"![PR and ROC curves]({paths.png.name})", "", "## Tasks", ""]
    for t in items:
        md += _task_section(t)
    md += _meta_section(meta)
    paths.markdown.write_text("\n".join(md), encoding="utf-8")
    doc = {"title": title, "meta": meta, "tasks": [_task_json(t) for t in items]}
    paths.json.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    _plot(paths.png, items, fprs)
    return paths
