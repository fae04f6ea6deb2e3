"""The HTML run report the alert stage writes once per DAG run.

It is for the person deciding whether the alerts are worth acting on: what the run saw, how the
scores fell, and for each alerted entity why it was flagged, next to what was suppressed (so a
quiet run is visibly quiet, not silently broken). One self-contained file, no JavaScript and
nothing fetched: reports are opened from mail, tickets and archives.

Entities, user agents, sample requests and reasons come from attacker-controlled log lines, so
every value is escaped, control characters are shown as visible escapes (a ``\\n`` in a user
agent must not forge a second request line), long strings are capped, and a CSP meta tag
forbids scripts and remote loads should an escape ever be missed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from spark_jobs.reporting import plots

MAX_ALERTS = 50
MAX_SUPPRESSED = 200
MAX_FEATURES = 10
MAX_SAMPLES = 10
UA_CHARS = REQUEST_CHARS = 300
REASON_CHARS = 500
TEXT_CHARS = 200
NA = '<span class="na">n/a</span>'
SEVERITIES = ("critical", "high", "medium", "low")  # the only values allowed into a class name

# C0/C1 controls, line/paragraph separators, bidi overrides and invisible format characters:
# each could reorder, hide or split what the reader sees.
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'"

_CSS = """
body{font:15px/1.45 "DejaVu Sans",system-ui,sans-serif;color:#1d2329;background:#eef0f3;margin:0}
main{max-width:1040px;margin:0 auto;padding:20px 28px 40px;background:#fff}
h1{font-size:24px;margin:0}.sub{color:#5a6570;margin:2px 0 8px}h3{font-size:16px;margin:0 0 8px}
h2{font-size:19px;border-bottom:2px solid #e3e6ea;padding-bottom:3px;margin:28px 0 10px}
h4{font-size:14px;margin:12px 0 4px}table{border-collapse:collapse;width:100%;font-size:14px}
th,td{border-bottom:1px solid #e3e6ea;padding:3px 8px;text-align:left;vertical-align:top}
td{overflow-wrap:anywhere}th{background:#f6f7f9}img{display:block;max-width:100%;margin:6px 0}
.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}dt{color:#5a6570}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:0}
dd{margin:0;overflow-wrap:anywhere}code,pre{font-family:"DejaVu Sans Mono",monospace;font-size:13px}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f3f4f6;padding:8px 10px;margin:4px 0}
.reqs code{display:block;padding-left:2em;text-indent:-2em}.empty{font-style:italic}
article{border:1px solid #dfe3e8;border-left:6px solid var(--sev);padding:12px 16px;margin:14px 0}
.sev-critical{--sev:#6a1b9a}.sev-high{--sev:#c62828}.sev-medium{--sev:#e65100}.reason{margin:8px 0}
.sev-low{--sev:#9e7b00}.sev-unknown{--sev:#78909c}.empty,.na,.note{color:#5a6570}
.badge{display:inline-block;white-space:nowrap;padding:0 8px;border-radius:9px;color:#fff;
 background:var(--sev);font-size:12px;font-weight:bold;text-transform:uppercase;vertical-align:2px}
"""


def _clean(value: Any, limit: int) -> str:
    text = _INVISIBLE.sub(lambda m: _NAMED.get(m[0]) or f"\\u{ord(m[0]):04x}", str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _e(value: Any, limit: int = TEXT_CHARS) -> str:
    """Escaped, visible-controls, capped text; None is shown as n/a rather than 'None'."""
    return NA if value is None else html.escape(_clean(value, limit), quote=True)


def _num(value: Any, fmt: str = ",") -> str:
    if value is None:
        return NA
    try:
        return format(value if isinstance(value, int) else float(value), fmt)
    except (TypeError, ValueError):
        return _e(value)


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        doc = doc.get(key) if isinstance(doc, Mapping) else None
    return doc


def _kv(rows: Iterable[tuple[str, str]]) -> str:
    return '<dl class="kv">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """Cells must already be HTML; ``numeric`` column indexes are right-aligned."""

    def cell(tag: str, i: int, v: str) -> str:
        return f'<{tag} class="n">{v}</{tag}>' if i in numeric else f"<{tag}>{v}</{tag}>"

    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in rows
    )
    head_row = "".join(cell("th", i, h) for i, h in enumerate(head))
    return f"<table><thead><tr>{head_row}</tr></thead><tbody>{body}</tbody></table>"


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt, quote=True)}">'


def _more(n: int, what: str, where: str) -> str:
    return f'<p class="note">+{n:,} more {what} not shown {where}.</p>' if n > 0 else ""


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{title}</h2>{body}</section>'


def _empty(sid: str, title: str, message: str) -> str:
    return _section(sid, title, f'<p class="empty">{message}</p>')


def _summary(data: Mapping[str, Any]) -> str:
    sinks = [f"{_e(_get(s, 'name'))} ({_e(_get(s, 'type'))})" for s in data.get("sinks") or []]
    later = ' <span class="note">(delivered after this report)</span>'
    rows = [
        ("Use case", f"<code>{_e(data.get('use_case'))}</code>"),
        ("Description", _e(data.get("description"), REASON_CHARS)),
        ("Interval", f"{_e(data.get('interval_start'))} → {_e(data.get('interval_end'))}"),
        ("Model version", _e(data.get("model_version"))),
        ("Threshold", f"score ≥ {_num(data.get('threshold'), 'g')} (scores run 0-100)"),
        ("Sinks", (", ".join(sinks) or "none") + later),
    ]
    outputs = data.get("outputs") or {}
    rows += [(f"Output: {_e(k)}", f"<code>{_e(v, 500)}</code>") for k, v in outputs.items()]
    return _section("summary", "Summary", _kv(rows))


def _counts(counts: Mapping[str, Any]) -> str:
    known = {stage[0] for stage in plots.STAGES}
    rows = [(name, _num(counts.get(k)), note) for k, name, _, note in plots.STAGES]
    rows += [(_e(k), _num(v), "") for k, v in counts.items() if k not in known]
    table = _table(["Stage", "Count", "Note"], rows, {1})
    chart = _img(plots.counts_chart(counts), "Bar chart of the pipeline counts, log scale")
    return _section("counts", "Pipeline counts", table + chart)


def _scores(histogram: Sequence[Any], threshold: float | None) -> str:
    if not histogram:
        return _empty("scores", "Score distribution", "No score histogram.")
    t = 101.0 if threshold is None else threshold
    surely, possibly, total = plots.threshold_counts(histogram, t)
    above = f"{surely:,}" if surely == possibly else f"between {surely:,} and {possibly:,}"
    text = f"<p><strong>{above}</strong> of {total:,} scored sessions scored ≥ the threshold "
    text += f"{_num(threshold, 'g')}.</p>"
    alt = "Histogram of session scores, log scale, with the alert threshold marked"
    chart = _img(plots.score_histogram(histogram, threshold), alt)
    return _section("scores", "Score distribution", text + chart)


def _entity(alert: Mapping[str, Any]) -> str:
    return _e(_get(alert, "botwatch", "entity") or _get(alert, "source", "address"))


def _score(alert: Mapping[str, Any]) -> str:
    score = _get(alert, "botwatch", "score")
    return _num(_get(alert, "event", "risk_score") if score is None else score, ".1f")


def _severity(alert: Mapping[str, Any]) -> str:
    sev = str(_get(alert, "botwatch", "severity") or "").lower()
    return sev if sev in SEVERITIES else "unknown"


def _features(features: Any) -> str:
    if not features:
        return ""
    rows = [
        (
            f"<code>{_e(_get(f, 'feature'), 100)}</code>",
            _num(_get(f, "value"), ".4g"),
            _num(_get(f, "population_median"), ".4g"),
            _num(_get(f, "percentile"), ".1f"),
            _num(_get(f, "share"), ".0%"),
        )
        for f in list(features)[:MAX_FEATURES]
    ]
    head = ["Feature", "Value", "Population median", "Percentile", "Share of score"]
    return "<h4>Top features</h4>" + _table(head, rows, {1, 2, 3, 4})


def _samples(samples: Any) -> str:
    if not samples:
        return ""
    samples = list(samples)
    # One block per request with a hanging indent: a wrapped request still reads as one.
    lines = "".join(f"<code>{_e(s, REQUEST_CHARS)}</code>" for s in samples[:MAX_SAMPLES])
    more = _more(len(samples) - MAX_SAMPLES, "sample requests", "here")
    return f'<h4>Sample requests</h4><pre class="reqs">{lines}</pre>{more}'


def _alert(rank: int, alert: Mapping[str, Any]) -> str:
    bw = alert.get("botwatch") or {}
    sev = _severity(alert)
    crawler = bw.get("crawler_name")
    declared = bw.get("declared_crawler")
    crawler_text = _e(crawler) if crawler else "none" if declared is not None else NA
    if declared is not None:
        crawler_text += " (declared crawler)" if declared else " (not a declared crawler)"
    session = bw.get("session") or {}
    window = f"{_e(session.get('start'))} → {_e(session.get('end'))}"
    ua = _e(_get(alert, "user_agent", "original"), UA_CHARS)
    rows = [
        ("Requests / sessions", f"{_num(bw.get('requests'))} / {_num(bw.get('sessions'))}"),
        ("Source address", _e(_get(alert, "source", "address"))),
        ("User agent", f"<code>{ua}</code>"),
        ("Crawler", crawler_text),
        ("Top session", f"{_e(session.get('id'))}: {window}" if session else NA),
        ("Alert id", f"<code>{_e(bw.get('alert_id') or _get(alert, 'event', 'id'), 80)}</code>"),
    ]
    reason = _e(bw.get("reason") or alert.get("message"), REASON_CHARS)
    return (
        f'<article class="alert sev-{sev}" id="alert-{rank}"><h3>#{rank} '
        f'<span class="badge">{sev}</span> {_entity(alert)} · score {_score(alert)}</h3>'
        f'{_kv(rows)}<p class="reason"><strong>Why:</strong> {reason}</p>'
        f"{_features(bw.get('top_features'))}{_samples(bw.get('sample_requests'))}</article>"
    )


def _alerts(alerts: Sequence[Mapping[str, Any]]) -> str:
    if not alerts:
        return _empty("alerts", "Alerts", "No alerts for this interval.")
    shown = list(alerts)[:MAX_ALERTS]
    overview = [
        (
            str(i),
            f'<span class="badge sev-{_severity(a)}">{_severity(a)}</span>',
            f'<a href="#alert-{i}">{_entity(a)}</a>',
            _score(a),
            _num(_get(a, "botwatch", "requests")),
            _e(_get(a, "botwatch", "crawler_name") or ""),
        )
        for i, a in enumerate(shown, 1)
    ]
    head = ["#", "Severity", "Entity", "Score", "Requests", "Crawler"]
    body = (
        f"<p>{len(alerts):,} alerts, highest score first.</p>"
        + _table(head, overview, {0, 3, 4})
        + "".join(_alert(i, a) for i, a in enumerate(shown, 1))
        + _more(len(alerts) - len(shown), "alerts", "(all are in the alerts output)")
    )
    return _section("alerts", "Alerts", body)


def _suppressed(items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return _empty("suppressed", "Suppressed", "Nothing was suppressed in this interval.")
    rows = [
        (
            _e(_get(s, "entity")),
            _num(_get(s, "score"), ".1f"),
            _e(_get(s, "suppression"), REASON_CHARS),
        )
        for s in list(items)[:MAX_SUPPRESSED]
    ]
    intro = f"<p>{len(items):,} entities scored ≥ the threshold but were not alerted:</p>"
    more = _more(len(items) - MAX_SUPPRESSED, "suppressed entities", "here")
    table = _table(["Entity", "Score", "Suppressed because"], rows, {1})
    return _section("suppressed", "Suppressed", intro + table + more)


def _trend(trend: Sequence[Mapping[str, Any]]) -> str:
    points = [p for p in trend if isinstance(p, Mapping)]
    if not points:
        return _empty("trend", "Trend", "No earlier runs recorded.")
    alt = "Line chart of alerts and suppressed entities per interval over the recent runs"
    text = f"<p>Last {len(points)} interval(s); the highlighted one is this run.</p>"
    return _section("trend", "Trend", text + _img(plots.trend_chart(points), alt))


def title(data: Mapping[str, Any]) -> str:
    """The document title (unescaped), also what tests compare the rendered DOM against."""
    return (
        f"botwatch · {_clean(data.get('use_case') or 'n/a', 100)} · "
        f"{_clean(data.get('interval_start'), 40)} – {_clean(data.get('interval_end'), 40)}"
    )


def render_report(data: Mapping[str, Any]) -> str:
    """The whole report as one HTML5 string; the same ``data`` always gives the same string."""
    counts = data.get("counts") or {}
    alerts = data.get("alerts") or []
    suppressed = data.get("suppressed") or []
    headline = (
        f"{_num(counts.get('alerts', len(alerts)))} alerts, "
        f"{_num(counts.get('suppressed', len(suppressed)))} suppressed"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title(data), quote=True)}</title><style>{_CSS}</style></head>",
        "<body><main>",
        f"<h1>botwatch run report: {_e(data.get('use_case'), 100)}</h1>",
        f'<p class="sub">{_e(data.get("interval_start"))} → {_e(data.get("interval_end"))}'
        f" · {headline}</p>",
        _summary(data),
        _counts(counts),
        _scores(data.get("score_histogram") or [], _float(data.get("threshold"))),
        _alerts(alerts),
        _suppressed(suppressed),
        _trend(data.get("trend") or []),
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"
