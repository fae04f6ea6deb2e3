"""The HTML run report the alert stage writes once per DAG run.

It is for the person deciding whether the alerts are worth acting on: what the run saw, how the
scores fell, and for each alerted entity why it was flagged, next to what was suppressed (so a
quiet run is visibly quiet, not silently broken). One self-contained file, no JavaScript and
nothing fetched: reports are opened from mail, tickets and archives.

Entities, user agents, sample requests and reasons come from attacker-controlled log lines.
This module turns the run's data into plain, capped text with control characters shown as
visible escapes (a ``\\n`` in a user agent must not forge a second request line); the template
``templates/report.html.j2`` lays it out and escapes every value (autoescape), and its CSP meta
tag forbids scripts and remote loads should markup ever slip through.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from spark_jobs.reporting import plots
from spark_jobs.reporting.text import cap, fmt_spec, show_controls

MAX_ALERTS = 50
MAX_SUPPRESSED = 200
MAX_FEATURES = 10
MAX_SAMPLES = 10
UA_CHARS = REQUEST_CHARS = 300
REASON_CHARS = 500
TEXT_CHARS = 200
SEVERITIES = ("critical", "high", "medium", "low")  # the only values allowed into a class name


@functools.cache
def _templates() -> Any:
    """Built on first use: the alert job imports this module, most runs never render."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("spark_jobs.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["commas"] = lambda n: f"{n:,}"
    return env


def _t(value: Any, limit: int = TEXT_CHARS) -> str | None:
    """Visible-controls, capped text; None stays None, which the template shows as n/a."""
    return None if value is None else cap(show_controls(str(value)), limit)


def _n(value: Any, spec: str = ",") -> str | None:
    """A number through ``spec``; None (n/a) when missing, the value as text when no number."""
    if value is None:
        return None
    text = fmt_spec(value, spec)
    return _t(value) if text is None else text


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        doc = doc.get(key) if isinstance(doc, Mapping) else None
    return doc


def _summary(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "use_case": _t(data.get("use_case")),
        "description": _t(data.get("description"), REASON_CHARS),
        "start": _t(data.get("interval_start")),
        "end": _t(data.get("interval_end")),
        "model_version": _t(data.get("model_version")),
        "threshold": _n(data.get("threshold"), "g"),
        "sinks": [(_t(_get(s, "name")), _t(_get(s, "type"))) for s in data.get("sinks") or []],
        "outputs": [(_t(k), _t(v, 500)) for k, v in (data.get("outputs") or {}).items()],
    }


def _counts(counts: Mapping[str, Any]) -> dict[str, Any]:
    known = {stage[0] for stage in plots.STAGES}
    rows = [(name, _n(counts.get(k)), note) for k, name, _, note in plots.STAGES]
    rows += [(_t(k), _n(v), "") for k, v in counts.items() if k not in known]
    return {"rows": rows, "chart": plots.counts_chart(counts)}


def _scores(histogram: Sequence[Any], threshold: float | None) -> dict[str, Any] | None:
    if not histogram:
        return None
    t = 101.0 if threshold is None else threshold
    surely, possibly, total = plots.threshold_counts(histogram, t)
    above = f"{surely:,}" if surely == possibly else f"between {surely:,} and {possibly:,}"
    return {
        "above": above,
        "total": total,
        "threshold": _n(threshold, "g"),
        "chart": plots.score_histogram(histogram, threshold),
    }


def _entity(alert: Mapping[str, Any]) -> str | None:
    return _t(_get(alert, "botwatch", "entity") or _get(alert, "source", "address"))


def _score(alert: Mapping[str, Any]) -> str | None:
    score = _get(alert, "botwatch", "score")
    return _n(_get(alert, "event", "risk_score") if score is None else score, ".1f")


def _severity(alert: Mapping[str, Any]) -> str:
    sev = str(_get(alert, "botwatch", "severity") or "").lower()
    return sev if sev in SEVERITIES else "unknown"


def _features(features: Any) -> list[dict[str, str | None]]:
    return [
        {
            "name": _t(_get(f, "feature"), 100),
            "value": _n(_get(f, "value"), ".4g"),
            "median": _n(_get(f, "population_median"), ".4g"),
            "percentile": _n(_get(f, "percentile"), ".1f"),
            "share": _n(_get(f, "share"), ".0%"),
        }
        for f in list(features or [])[:MAX_FEATURES]
    ]


def _crawler(bw: Mapping[str, Any]) -> tuple[str | None, str]:
    """The crawler's name (or "none", or n/a when nobody checked) and what was declared."""
    crawler, declared = bw.get("crawler_name"), bw.get("declared_crawler")
    if declared is None:
        return (_t(crawler) if crawler else None), ""
    note = " (declared crawler)" if declared else " (not a declared crawler)"
    return (_t(crawler) if crawler else "none"), note


def _alert(rank: int, alert: Mapping[str, Any]) -> dict[str, Any]:
    bw = alert.get("botwatch") or {}
    session = bw.get("session") or {}
    samples = list(bw.get("sample_requests") or [])
    crawler, crawler_note = _crawler(bw)
    return {
        "rank": rank,
        "severity": _severity(alert),
        "entity": _entity(alert),
        "score": _score(alert),
        "requests": _n(bw.get("requests")),
        "sessions": _n(bw.get("sessions")),
        "source": _t(_get(alert, "source", "address")),
        "user_agent": _t(_get(alert, "user_agent", "original"), UA_CHARS),
        "crawler": crawler,
        "crawler_note": crawler_note,
        "overview_crawler": _t(bw.get("crawler_name") or ""),
        "session": {k: _t(session.get(k)) for k in ("id", "start", "end")} if session else None,
        "alert_id": _t(bw.get("alert_id") or _get(alert, "event", "id"), 80),
        "reason": _t(bw.get("reason") or alert.get("message"), REASON_CHARS),
        "features": _features(bw.get("top_features")),
        "samples": [_t(s, REQUEST_CHARS) for s in samples[:MAX_SAMPLES]],
        "more_samples": len(samples) - MAX_SAMPLES,
    }


def _suppressed(items: Sequence[Mapping[str, Any]]) -> list[dict[str, str | None]]:
    return [
        {
            "entity": _t(_get(s, "entity")),
            "score": _n(_get(s, "score"), ".1f"),
            "why": _t(_get(s, "suppression"), REASON_CHARS),
        }
        for s in list(items)[:MAX_SUPPRESSED]
    ]


def _trend(trend: Sequence[Any]) -> dict[str, Any] | None:
    points = [p for p in trend if isinstance(p, Mapping)]
    return {"points": len(points), "chart": plots.trend_chart(points)} if points else None


def title(data: Mapping[str, Any]) -> str:
    """The document title (unescaped), also what tests compare the rendered DOM against."""
    return (
        f"botwatch · {_t(data.get('use_case') or 'n/a', 100)} · "
        f"{_t(data.get('interval_start'), 40)} – {_t(data.get('interval_end'), 40)}"
    )


def render_report(data: Mapping[str, Any]) -> str:
    """The whole report as one HTML5 string; the same ``data`` always gives the same string."""
    counts = data.get("counts") or {}
    alerts = list(data.get("alerts") or [])
    suppressed = list(data.get("suppressed") or [])
    shown = alerts[:MAX_ALERTS]
    return (
        _templates()
        .get_template("report.html.j2")
        .render(
            title=title(data),
            heading=_t(data.get("use_case"), 100),
            alert_count=_n(counts.get("alerts", len(alerts))),
            suppressed_count=_n(counts.get("suppressed", len(suppressed))),
            summary=_summary(data),
            counts=_counts(counts),
            scores=_scores(data.get("score_histogram") or [], _float(data.get("threshold"))),
            alerts=[_alert(i, a) for i, a in enumerate(shown, 1)],
            all_alerts=len(alerts),
            suppressed=_suppressed(suppressed),
            all_suppressed=len(suppressed),
            trend=_trend(data.get("trend") or []),
        )
    )
