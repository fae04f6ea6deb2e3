"""evaluation.md: for people deciding whether a use case is good enough.

One summary row per task, targets met or not, and a note where an FPR budget is finer than one
false positive (so a recall there is rough). Numbers use fixed decimals so columns line up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from spark_jobs.evaluation.repeats import Stat
from spark_jobs.evaluation.targets import TaskResult, all_met, check_target, fpr_entry
from spark_jobs.reporting.text import DASH, fmt_fixed, fmt_pct, squash


def _cell(text: Any) -> str:
    """A table cell: a ``|`` would end the cell, a newline the row."""
    return squash(str(text)).replace("|", r"\|")


def _yes(flag: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[flag]


def _both(value: float | None, stat: Stat | None) -> str:
    if stat is None:
        return fmt_fixed(value)
    return f"{fmt_fixed(stat.mean)} (worst {fmt_fixed(stat.worst)})"


def _summary(tasks: Sequence[TaskResult], fprs: list[float]) -> list[str]:
    head = ["Task", "Bots", "Not bots", "1 FP =", "Precision", "Recall", "F1", "FPR", "PR-AUC"]
    head += ["ROC-AUC", *(f"R@FPR≤{fmt_pct(f)}" for f in fprs), "Target", "Met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in tasks:
        m, cv = t.metrics, t.cv
        row = [_cell(t.name), str(m.positives), str(m.negatives), fmt_pct(m.one_fp_fpr)]
        for name in ("precision", "recall", "f1", "fpr", "pr_auc", "roc_auc"):
            row.append(_both(getattr(m, name), getattr(cv, name) if cv else None))
        for f in fprs:
            hit = fpr_entry(m.recall_at_fpr, f)
            stat = fpr_entry(cv.recall_at_fpr, f) if cv else None
            row.append(_both(hit.recall, stat.recall if stat else None) if hit else DASH)
        checks = check_target(t)
        row.append(_cell("; ".join(c.criterion for c in checks)) or DASH)
        if not checks:
            row.append(DASH)
        elif cv:
            mean = _yes(all_met([c.cv_mean_met for c in checks]))
            row.append(f"mean {mean}, worst {_yes(all_met([c.cv_worst_met for c in checks]))}")
        else:
            row.append(_yes(all_met([c.met for c in checks])))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _task_section(t: TaskResult) -> list[str]:
    m = t.metrics
    out = [f"### {t.name}", "", t.description, ""] if t.description else [f"### {t.name}", ""]
    out.append(
        f"{m.n} sessions: {m.positives} bots, {m.negatives} not bots; flagged when "
        f"score ≥ {m.threshold:g}. One false positive = {fmt_pct(m.one_fp_fpr)} FPR."
    )
    coarse = [a.max_fpr for a in m.recall_at_fpr if m.one_fp_fpr and m.one_fp_fpr > a.max_fpr]
    if coarse:
        out.append(
            f"With so few negatives, FPR ≤ {', '.join(map(fmt_pct, coarse))} means "
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
                f"| {fmt_pct(a.max_fpr)} | {fmt_fixed(a.recall)} | {thr} | {fmt_pct(a.fpr)} | {a.fp} "
                f"| {fmt_fixed(a.precision)} |"
            )
        out.append("")
    if t.cv:
        out += [f"Cross-validation, {t.cv.repeats} repeats:", ""]
        out += ["| metric | mean | worst | std |", "|---|---|---|---|"]
        rows = [(n, getattr(t.cv, n)) for n in ("precision", "recall", "f1", "fpr", "pr_auc")]
        rows.append(("roc_auc", t.cv.roc_auc))
        rows += [(f"recall@FPR≤{fmt_pct(a.max_fpr)}", a.recall) for a in t.cv.recall_at_fpr]
        for name, s in rows:
            out.append(
                f"| {name} | {fmt_fixed(s.mean)} | {fmt_fixed(s.worst)} | {fmt_fixed(s.std)} |"
            )
        out.append("")
    for c in check_target(t):
        line = f"- Target {c.criterion}: {fmt_fixed(c.value)} → {_yes(c.met)}"
        if c.cv_mean is not None or c.cv_worst is not None:
            line += f"; CV mean {fmt_fixed(c.cv_mean)} → {_yes(c.cv_mean_met)}"
            line += f", worst {fmt_fixed(c.cv_worst)} → {_yes(c.cv_worst_met)}"
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


def render_markdown(
    title: str, tasks: Sequence[TaskResult], fprs: list[float], meta: dict[str, Any], png: str
) -> str:
    """The whole evaluation.md; ``png`` is the curves' file name, linked relative to it."""
    md = [f"# {title}", ""]
    if meta.get("date"):
        md += [f"Evaluated {meta['date']}.", ""]
    md += ["## Summary", "", *_summary(tasks, fprs), ""]
    md.append(
        "Precision, recall and F1 are at the use case's alert threshold. R@FPR≤x: the best "
        "recall with at most x of the non-bot sessions flagged. Cross-validated tasks show the "
        "mean over repeats and the worst repeat. 1 FP =: the FPR of a single false positive."
    )
    md += ["", f"![PR and ROC curves]({png})", "", "## Tasks", ""]
    for t in tasks:
        md += _task_section(t)
    md += _meta_section(meta)
    return "\n".join(md)
