"""Alert documents as messages people read: Slack Block Kit, plain text, HTML e-mail, subject.

Everything an alert says about its entity came from a log line somebody else wrote: the user
agent, the request lines, even the entity. So every such string is made one line (a newline in
a user agent must not fake a line of the message or a mail header), cut to a length, then
escaped for the target format: Slack mrkdwn (so ``<!channel>`` pings nobody and ``<http://x|y>``
is no link), here in Python since mrkdwn is no HTML, or HTML (so ``<script>`` is text), by the
autoescaping template ``templates/email.html.j2``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from spark_jobs.reporting.text import cap, fmt_num, one_line

#: Block Kit limits: a section's text and a message's block count.
SLACK_SECTION_LIMIT = 3000
SLACK_MAX_BLOCKS = 50
SUBJECT_LIMIT = 150
MAX_SAMPLES = 3

_SEVERITY_RANK = {"critical": 3, "high": 2, "medium": 1}
_SEVERITY_EMOJI = {"critical": ":rotating_light:", "high": ":red_circle:", "medium": ":warning:"}
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


def escape_slack(text: str) -> str:
    """Slack mrkdwn escaping, safe in plain text and inside `code` and ```blocks```.

    Only &, < and > are control characters for Slack; escaping them turns ``<!channel>``,
    ``<@U123>`` and ``<http://x|click>`` into text. Backticks become "ˋ" so log content cannot
    close a code span, and a bare ``@channel`` gets a word joiner so no client links it.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u2060\\1", text.replace("`", "ˋ"))


def _bw(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return doc.get("botwatch") or {}


def _severity(doc: Mapping[str, Any]) -> str:
    return one_line(_bw(doc).get("severity") or "alert", 20).lower()


def _worst(docs: Sequence[Mapping[str, Any]]) -> str:
    return max((_severity(d) for d in docs), key=lambda s: _SEVERITY_RANK.get(s, 0), default="")


def _use_cases(docs: Sequence[Mapping[str, Any]]) -> str:
    names = sorted({one_line(_bw(d).get("use_case") or "?", 80) for d in docs})
    return ", ".join(names)


def _feature_lines(doc: Mapping[str, Any]) -> list[str]:
    """Top features as ``feature = value (median m, pNN)``, raw (unescaped)."""
    lines = []
    for feat in _bw(doc).get("top_features") or []:
        name = one_line(feat.get("feature"), 80)
        pct = feat.get("percentile")
        pct_text = f", p{pct:.0f}" if isinstance(pct, int | float) else ""
        median = fmt_num(feat.get("population_median"))
        lines.append(f"{name} = {fmt_num(feat.get('value'))} (median {median}{pct_text})")
    return lines


def _samples(doc: Mapping[str, Any], limit: int = 300) -> list[str]:
    return [one_line(s, limit) for s in (_bw(doc).get("sample_requests") or [])[:MAX_SAMPLES]]


def _interval(doc: Mapping[str, Any]) -> str:
    interval = _bw(doc).get("interval") or {}
    return f"{one_line(interval.get('start'), 40)} to {one_line(interval.get('end'), 40)}"


def _activity(doc: Mapping[str, Any]) -> str:
    b = _bw(doc)
    return f"{fmt_num(b.get('requests'))} requests, {fmt_num(b.get('sessions'))} sessions"


def _facts(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, one-line value) pairs shared by the plain-text and HTML renderings."""
    b = _bw(doc)
    key = one_line(b.get("entity_key"), 40)
    facts = [
        ("Severity", _severity(doc).upper()),
        ("Use case", one_line(b.get("use_case"), 80)),
        ("Entity", one_line(b.get("entity"), 200) + (f" ({key})" if key else "")),
        ("Score", f"{fmt_num(b.get('score'))} (threshold {fmt_num(b.get('threshold'))})"),
        ("Interval", _interval(doc)),
        ("Activity", _activity(doc)),
    ]
    if (doc.get("source") or {}).get("ip"):
        facts.append(("Source IP", one_line(doc["source"]["ip"], 60)))
    if (doc.get("user_agent") or {}).get("original"):
        facts.append(("User agent", one_line(doc["user_agent"]["original"], 300)))
    if b.get("declared_crawler"):
        facts.append(("Declared crawler", one_line(b.get("crawler_name") or "yes", 80)))
    if b.get("spoofed_crawler"):
        facts.append(("Spoofed crawler", one_line(b.get("crawler_check") or "yes", 300)))
    model = f"{one_line(b.get('model_version'), 120)} ({one_line(b.get('model_kind'), 40)})"
    facts += [
        ("Reason", one_line(b.get("reason") or doc.get("message"), 600)),
        ("Model", model),
        ("Alert id", one_line((doc.get("event") or {}).get("id") or b.get("alert_id"), 80)),
    ]
    return facts


def _headline(doc: Mapping[str, Any]) -> str:
    """``HIGH behavioural_bots: 1.2.3.4 (score 99.6)``, raw: for subjects and fallbacks."""
    b = _bw(doc)
    return (
        f"{_severity(doc).upper()} {one_line(b.get('use_case'), 80)}: "
        f"{one_line(b.get('entity'), 100)} (score {fmt_num(b.get('score'))})"
    )


def subject(docs: Sequence[Mapping[str, Any]], prefix: str = "[botwatch]") -> str:
    """A mail subject: one line (no CR/LF, so no header injection), at most SUBJECT_LIMIT."""
    prefix = one_line(prefix, 40)
    if len(docs) == 1:
        text = f"{prefix} {_headline(docs[0])}"
    else:
        entities = ", ".join(one_line(_bw(d).get("entity"), 60) for d in docs[:5])
        text = f"{prefix} {len(docs)} alerts, {_use_cases(docs)} (worst {_worst(docs).upper()}): {entities}"
    return cap(one_line(text, 10 * SUBJECT_LIMIT).strip(), SUBJECT_LIMIT)


def plain_text(docs: Sequence[Mapping[str, Any]]) -> str:
    """The text/plain part of a mail: one block of ``Label: value`` lines per alert."""
    out = [f"botwatch: {len(docs)} alert{'s' if len(docs) != 1 else ''} ({_use_cases(docs)})", ""]
    for i, doc in enumerate(docs):
        if i:
            out += ["-" * 72, ""]
        out += [f"{label + ':':<18}{value}" for label, value in _facts(doc)]
        features = _feature_lines(doc)
        if features:
            out += ["Top features:"] + [f"  - {line}" for line in features]
        samples = _samples(doc)
        if samples:
            out += ["Sample requests:"] + [f"  {line}" for line in samples]
        out.append("")
    return "\n".join(out)


_COLOURS = {"critical": "#b00020", "high": "#d35400"}


@functools.cache
def _templates() -> Any:
    """The e-mail templates, built on first use: webhooks import this module, mails are rarer."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("spark_jobs.alerting.sinks", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def html_body(docs: Sequence[Mapping[str, Any]]) -> str:
    """The text/html part of a mail: inline CSS only, no scripts, no external resources, and
    an autoescaping template so log content shows as text."""
    alerts = [
        {
            "colour": _COLOURS.get(_severity(doc), "#8a6d00"),
            "headline": _headline(doc),
            "facts": _facts(doc),
            "features": _feature_lines(doc),
            "samples": _samples(doc),
        }
        for doc in docs
    ]
    title = f"botwatch: {len(docs)} alert{'s' if len(docs) != 1 else ''} ({_use_cases(docs)})"
    return _templates().get_template("email.html.j2").render(title=title, alerts=alerts)


def _fit(lines: Sequence[str], limit: int = SLACK_SECTION_LIMIT) -> str:
    """Join escaped lines while they fit in ``limit``; a first line alone is cut to fit."""
    out: list[str] = []
    used = 0
    for line in lines:
        cost = len(line) + (1 if out else 0)
        if used + cost > limit:
            if not out:
                out.append(cap(line, limit))
            elif used + 2 <= limit:
                out.append("…")
            break
        out.append(line)
        used += cost
    return "\n".join(out)


def _code_block(lines: Sequence[str], limit: int) -> str:
    """Escaped lines in a ``` block whose fence the content cannot close (no backticks)."""
    return "```\n" + _fit([escape_slack(line) for line in lines], limit - 8) + "\n```"


def _slack_header(doc: Mapping[str, Any]) -> str:
    b, sev = _bw(doc), _severity(doc)
    return (
        f"{_SEVERITY_EMOJI.get(sev, ':grey_question:')} *{escape_slack(sev.upper())}* · "
        f"{escape_slack(one_line(b.get('use_case'), 80))} · "
        f"`{escape_slack(one_line(b.get('entity'), 200))}` · "
        f"score *{fmt_num(b.get('score'))}* (threshold {fmt_num(b.get('threshold'))})"
    )


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _alert_blocks(doc: Mapping[str, Any], compact: bool) -> list[dict]:
    """One alert as blocks: a single section when ``compact`` (digests), else up to five."""
    b = _bw(doc)
    header = _slack_header(doc)
    when = escape_slack(f"{_activity(doc)}, {_interval(doc)}")
    reason = escape_slack(one_line(b.get("reason") or doc.get("message"), 600))
    features = [f"• `{escape_slack(line)}`" for line in _feature_lines(doc)]
    samples = _samples(doc)
    if compact:
        lines = [header, reason, *features[:3]]
        text = _fit(lines, SLACK_SECTION_LIMIT - 600)
        if samples:
            text += "\n" + _code_block(samples[:1], SLACK_SECTION_LIMIT - len(text) - 1)
        return [_section(text)]
    blocks = [_section(_fit([header, when])), _section(_fit([f"*Why:* {reason}"]))]
    if features:
        blocks.append(_section(_fit(["*Top features*", *features])))
    if samples:
        blocks.append(_section("*Sample requests*\n" + _code_block(samples, 2900)))
    context = [f"model `{escape_slack(one_line(b.get('model_version'), 120))}`"]
    if (doc.get("user_agent") or {}).get("original"):
        ua = one_line(doc["user_agent"]["original"], 300)
        context.append(f"user agent `{escape_slack(ua)}`")
    if b.get("declared_crawler"):
        context.append(f"declared crawler {escape_slack(one_line(b.get('crawler_name'), 80))}")
    if b.get("spoofed_crawler"):
        context.append(f"*spoofed crawler*: {escape_slack(one_line(b.get('crawler_check'), 200))}")
    alert = one_line((doc.get("event") or {}).get("id") or b.get("alert_id"), 80)
    context.append(f"alert `{escape_slack(alert)}`")
    text = cap(" · ".join(context), SLACK_SECTION_LIMIT)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    return blocks


def slack_message(docs: Sequence[Mapping[str, Any]], digest: bool) -> dict:
    """A Block Kit payload ``{"text": fallback, "blocks": [...]}`` for an incoming webhook.

    Without ``digest`` each alert gets a full card (normally one alert per message); a digest
    gets a summary line and one compact section per alert. Either way the message stays within
    Slack's limits (50 blocks, 3000 characters a section) and ends with "+N more" when some
    alerts did not fit.
    """
    noun = f"{len(docs)} alert{'s' if len(docs) != 1 else ''}"
    if len(docs) == 1:
        fallback = _headline(docs[0])
    else:
        entities = ", ".join(one_line(_bw(d).get("entity"), 60) for d in docs[:10])
        fallback = f"botwatch: {noun} ({_use_cases(docs)}): {entities}"
    blocks: list[dict] = []
    if digest:
        worst = escape_slack(_worst(docs))
        summary = f"*botwatch: {noun}* for {escape_slack(_use_cases(docs))}, worst {worst}"
        blocks.append(_section(cap(summary, SLACK_SECTION_LIMIT)))
    shown = 0
    for doc in docs:
        more = _alert_blocks(doc, compact=digest)
        if not digest and shown:
            more.insert(0, {"type": "divider"})
        if len(blocks) + len(more) > SLACK_MAX_BLOCKS - 1:  # keep one for "+N more"
            break
        blocks += more
        shown += 1
    if shown < len(docs):
        rest = f"+{len(docs) - shown} more alert{'s' if len(docs) - shown != 1 else ''} not shown"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": rest}]})
    return {"text": cap(escape_slack(one_line(fallback, 3000)), 3000), "blocks": blocks}
