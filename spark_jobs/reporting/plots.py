"""The run report's figures, as ``data:`` URIs so the HTML stays one self-contained file.

The report is mailed, attached and archived; a file that fetches nothing is readable anywhere
and cannot leak that it was opened. matplotlib is imported inside each function because the
alert job imports this module and most runs never reach the report. Figures are built on a
bare ``Figure`` with the Agg canvas: no pyplot state and no backend switch in a host process.
PNGs are written without the Software/date metadata so the same data gives the same bytes,
which keeps reruns of an interval byte-identical.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

#: Pipeline stages in flow order: (key in ``counts``, label, colour group, note for the table).
STAGES: tuple[tuple[str, str, str, str], ...] = (
    ("read", "lines read", "flow", "parsed + quarantined + out of window"),
    ("parsed", "parsed", "flow", ""),
    ("quarantined", "quarantined", "drop", "did not parse; kept for inspection"),
    ("out_of_window", "out of window", "drop", "parsed, but timed outside the interval"),
    ("sessions", "sessions", "flow", ""),
    ("entities", "entities", "flow", ""),
    ("candidates", "candidates", "flow", ""),
    ("alerts", "alerts", "alert", ""),
    ("suppressed", "suppressed", "muted", ""),
)
_COLOURS = {"flow": "#4c72b0", "drop": "#dd8452", "alert": "#c44e52", "muted": "#8c8c8c"}
WIDTH_IN = 10.0  # at DPI this is 1000 px: shown 1:1 in the report's 1040 px column
DPI = 100


def _figure(height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _data_uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    fig.clear()  # a Figure without pyplot has no registry to close; drop its artists now
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _count(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def counts_chart(counts: Mapping[str, Any]) -> str:
    """Horizontal funnel on a log axis: 10,000 lines and 3 alerts must both be readable."""
    fig = _figure(0.32 * len(STAGES) + 0.8)
    ax = fig.subplots()
    values = [_count(counts.get(key)) for key, *_ in STAGES]
    ys = list(range(len(STAGES)))
    positive = [v for v in values if v]
    top = max(positive, default=1)
    ax.barh(
        ys,
        [v if v else 0 for v in values],
        color=[_COLOURS[group] for _, _, group, _ in STAGES],
        height=0.65,
    )
    if positive:
        ax.set_xscale("log")
    else:
        ax.text(0.5, 0.5, "no counts recorded", ha="center", transform=ax.transAxes)
    ax.set_xlim(0.8, top * 6)  # room right of the longest bar for its label
    for y, v in zip(ys, values, strict=True):
        label = "n/a (missing)" if v is None else f"{v:,}"
        ax.text(max(v or 0, 0.9) * 1.15, y, label, va="center", fontsize=9, parse_math=False)
    ax.set_yticks(ys, [label for _, label, *_ in STAGES])
    ax.invert_yaxis()  # flow reads top to bottom, like the table
    ax.set_xlabel("count (log scale)")
    ax.set_title("Pipeline counts for this interval", loc="left", fontsize=11)
    ax.grid(axis="x", which="major", alpha=0.3)
    return _data_uri(fig)


def threshold_counts(histogram: Sequence[Any], threshold: float) -> tuple[int, int, int]:
    """(sessions surely >= threshold, possibly >= threshold, total).

    Bins are 1 point wide, so a fractional threshold falls inside a bin whose sessions may be
    on either side: the two numbers differ only then.
    """
    bins = [_count(v) or 0 for v in histogram]
    width = 100.0 / len(bins) if bins else 1.0
    surely = sum(n for i, n in enumerate(bins) if i * width >= threshold)
    last = len(bins) - 1  # holds score 100 too: its right edge is inclusive
    possibly = sum(
        n
        for i, n in enumerate(bins)
        if (i + 1) * width > threshold or (i == last and threshold <= 100)
    )
    return surely, possibly, sum(bins)


def score_histogram(histogram: Sequence[Any], threshold: float | None) -> str:
    """Log y: the few sessions near the threshold are the point and would vanish on linear."""
    bins = [_count(v) or 0 for v in histogram]
    width = 100.0 / len(bins)
    fig = _figure(3.6)
    ax = fig.subplots()
    lefts = [i * width for i in range(len(bins))]
    cut = 101.0 if threshold is None else threshold
    above = [(left + width > cut) for left in lefts]
    ax.bar(
        [left for left, a in zip(lefts, above, strict=True) if not a],
        [n for n, a in zip(bins, above, strict=True) if not a],
        width=width,
        align="edge",
        color="#4c72b0",
        label="sessions below threshold",
    )
    ax.bar(
        [left for left, a in zip(lefts, above, strict=True) if a],
        [n for n, a in zip(bins, above, strict=True) if a],
        width=width,
        align="edge",
        color="#c44e52",
        label="sessions at/above threshold",
    )
    if threshold is not None:
        ax.axvline(
            threshold,
            color="black",
            linestyle="--",
            linewidth=1.2,
            label=f"threshold {threshold:g}",
        )
    if any(bins):
        ax.set_yscale("log")
        ax.set_ylim(0.7, max(bins) * 12)  # headroom for the legend row
    else:
        ax.text(0.5, 0.5, "no scored sessions", ha="center", transform=ax.transAxes)
    ax.set_xlim(0, 100)
    ax.set_xlabel("anomaly score (1-point bins)")
    ax.set_ylabel("sessions (log scale)")
    ax.set_title("Session score distribution", loc="left", fontsize=11)
    ax.legend(loc="upper left", fontsize=9, ncols=3)
    ax.grid(axis="y", which="major", alpha=0.3)
    return _data_uri(fig)


def _tick_labels(starts: Sequence[Any]) -> list[str]:
    parsed: list[datetime | None] = []
    for s in starts:
        try:
            parsed.append(datetime.fromisoformat(str(s)))
        except ValueError:
            parsed.append(None)
    daily = all(p is not None and (p.hour, p.minute, p.second) == (0, 0, 0) for p in parsed)
    fmt = "%Y-%m-%d" if daily else "%m-%d %H:%M"
    return [p.strftime(fmt) if p else str(s)[:16] for p, s in zip(parsed, starts, strict=True)]


def trend_chart(trend: Sequence[Mapping[str, Any]]) -> str:
    """Categorical x (one slot per run): intervals are regular and gaps are not the point."""
    fig = _figure(3.2)
    ax = fig.subplots()
    xs = list(range(len(trend)))
    alerts = [_count(p.get("alerts")) for p in trend]
    suppressed = [_count(p.get("suppressed")) for p in trend]
    nan = math.nan
    ax.plot(
        xs,
        [nan if v is None else v for v in alerts],
        "o-",
        color="#c44e52",
        label="alerts",
        clip_on=False,
    )
    ax.plot(
        xs,
        [nan if v is None else v for v in suppressed],
        "s--",
        color="#8c8c8c",
        label="suppressed",
        clip_on=False,  # zero is common; a marker cut in half by the axis reads as missing
    )
    if xs:
        ax.axvspan(xs[-1] - 0.4, xs[-1] + 0.4, color="#f2e6b3", zorder=0, label="this run")
    step = max(1, math.ceil(len(xs) / 14))  # at most ~14 labels before they collide
    labels = _tick_labels([p.get("interval_start") for p in trend])
    ticks = xs[::-1][::step][::-1]  # counted back from this run, so it is always labelled
    ax.set_xticks(ticks, [labels[i] for i in ticks], parse_math=False)
    if len(xs) > 7:
        for label in ax.get_xticklabels():
            label.set(rotation=30, ha="right")
    ax.set_xlim(-0.6, max(len(xs) - 0.4, 0.6))
    ax.set_ylim(bottom=0, top=max([v or 0 for v in alerts + suppressed] + [1]) * 1.4)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("entities")
    ax.set_title("Alerts and suppressions per interval", loc="left", fontsize=11)
    ax.legend(loc="upper left", fontsize=9, ncols=3)
    ax.grid(axis="y", alpha=0.3)
    return _data_uri(fig)
