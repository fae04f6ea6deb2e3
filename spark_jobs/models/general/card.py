"""The data card of a general model: what it was trained on, how, and how well it transfers.

Rendered from the same dictionary the model's JSON carries (``Forest.card``), so the card can
never describe another model than the one shipped beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _num(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _recall_at(metrics: dict[str, Any], fpr: float) -> str:
    for point in metrics.get("recall_at_fpr", []):
        if abs(point["max_fpr"] - fpr) < 1e-9:
            return _num(point["recall"], 2)
    return "–"


def metrics_table(out_of_site: dict[str, dict[str, Any]], sites: dict[str, dict]) -> list[str]:
    """One row per held-out site: the recipe trained on every other site, scored on it."""
    lines = [
        "| held-out site | sessions (bots) | base rate | PR-AUC | ROC-AUC | R@FPR≤1% | R@FPR≤2% "
        "| R@FPR≤5% | precision @ 50 | recall @ 50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in out_of_site.items():
        n, bots = sites[name]["sessions"], sites[name]["bots"]
        lines.append(
            f"| {name} | {n:,} ({bots:,}) | {bots / max(n, 1):.2f} | {_num(m['pr_auc'])} "
            f"| {_num(m['roc_auc'])} | {_recall_at(m, 0.01)} | {_recall_at(m, 0.02)} "
            f"| {_recall_at(m, 0.05)} | {_num(m['precision'], 2)} | {_num(m['recall'], 2)} |"
        )
    return lines


def _held_out(card: dict[str, Any]) -> list[str]:
    """The data sets the shipped model was never trained on, scored by it."""
    if not card.get("held_out"):
        return []
    return [
        "## Data sets never trained on, scored by the shipped model",
        "",
        *metrics_table(card["held_out"], card["held_out_sites"]),
        "",
    ]


def render(card: dict[str, Any], features: Sequence[str]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in card["params"].items())
    top = sorted(card["importance"].items(), key=lambda kv: -kv[1])
    md = [
        f"# Data card: general bot model `{card['name']}`",
        "",
        f"Trained {card['trained']} with scikit-learn {card['scikit_learn']} ({params}).",
        "",
        "```bash",
        card["command"],
        "```",
        "",
        "## What it is",
        "",
        "A random forest over behaviour-only session features (no user agent, no crawler flag,",
        "no address): the probability that a session is a bot, as a score 0-100. Shipped with",
        "botwatch so a use case can score a site it has never seen (`model.kind: pretrained`).",
        "",
        "## Data",
        "",
        "| site | labelled sessions kept | bots |",
        "|---|---:|---:|",
        *[f"| {s} | {v['sessions']:,} | {v['bots']:,} |" for s, v in card["sites"].items()],
        "",
        "Labels: a site's annotation file when it has one, else its self-declared",
        "crawlers (weak labels: a bot that poses as a browser counts as a person). Every site",
        "weighs the same in training, half for its bots and half for its people.",
        "",
        "## Out-of-site metrics (leave one site out, same recipe)",
        "",
        *metrics_table(card["out_of_site"], card["sites"]),
        "",
        f"Precision and recall at the score {card['threshold']:g}. R@FPR≤x: the best recall "
        "with at most x of the site's non-bot sessions flagged.",
        "",
        *_held_out(card),
        "## Features (by importance in the final fit)",
        "",
        "| feature | importance |",
        "|---|---:|",
        *[f"| `{name}` | {value:.4f} |" for name, value in top],
        "",
        f"{len(features)} features; definitions in docs/features.md.",
        "",
    ]
    return "\n".join(md)
