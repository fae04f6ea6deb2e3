"""Rendering and escaping of alerts: log content must stay inert text in every format."""

from __future__ import annotations

import copy
import hashlib
import json
from html.parser import HTMLParser

import pytest

from spark_jobs.alerting.sinks.base import alert_id, digest_key
from spark_jobs.alerting.sinks.render import (
    SLACK_MAX_BLOCKS,
    SLACK_SECTION_LIMIT,
    escape_slack,
    html_body,
    plain_text,
    slack_message,
    subject,
)
from spark_jobs.reporting.text import cap, fmt_num, one_line
from tests.support.paths import alert_docs

DOCS = alert_docs()
HOSTILE = DOCS[2]
# What follows a line break inside the hostile doc's log content: it must never start a line.
INJECTED = ("Bcc:", "X-Injected", "fake line", "second line", "closed the block")


def texts(payload: dict) -> list[str]:
    """Every mrkdwn/plain text a Slack client would render from a payload."""
    out = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [element["text"] for element in block.get("elements", [])]
    return out


def many(n: int) -> list[dict]:
    docs = []
    for i in range(n):
        doc = copy.deepcopy(DOCS[i % 3])
        doc["event"]["id"] = doc["botwatch"]["alert_id"] = f"{i:064x}"
        doc["botwatch"]["entity"] = f"10.0.{i // 256}.{i % 256}"
        docs.append(doc)
    return docs


def test_cap_and_one_line():
    assert cap("short", 10) == "short"
    assert cap("abcdefghij", 5) == "abcd…" and len(cap("x" * 50, 7)) == 7
    assert cap("abc", 0) == ""
    assert one_line("a\r\nb\nc\rd\u2028e\x85f") == "a⏎b⏎c⏎d⏎e⏎f"
    assert one_line("tab\there\x00nul\x1b[31mred\x7f") == "tab here nul [31mred "
    assert one_line("evil\u202egnp.exe") == "evilgnp.exe"  # no bidi override to reverse text
    assert one_line(None) == "" and one_line(42) == "42"
    assert one_line("x" * 100, 10) == "x" * 9 + "…"


def test_escape_slack_neutralises_mentions_links_and_code_fences():
    assert escape_slack("<!channel> <!here|here> <@U123> <#C1>") == (
        "&lt;!channel&gt; &lt;!here|here&gt; &lt;@U123&gt; &lt;#C1&gt;"
    )
    assert escape_slack("<http://x|click>") == "&lt;http://x|click&gt;"
    assert escape_slack("a & b &lt;") == "a &amp; b &amp;lt;"  # & first: no double meaning
    assert "`" not in escape_slack("```rm -rf``` and `x`")
    assert escape_slack("@channel @Here") == "@\u2060channel @\u2060Here"
    assert escape_slack("user@example.org") == "user@example.org"


def test_fmt_num():
    assert [fmt_num(v) for v in (1.0, 0.56, 99.6, 75, 1234.5678, 0.000123456)] == [
        "1",
        "0.56",
        "99.6",
        "75",
        "1234.6",
        "0.000123",
    ]
    assert fmt_num(float("nan")) == "nan" and fmt_num(None) == "" and fmt_num(True) == "True"


def test_alert_id_and_digest_key():
    assert alert_id(DOCS[0]) == DOCS[0]["event"]["id"]
    assert alert_id({"botwatch": {"alert_id": "abc"}}) == "abc"
    with pytest.raises(ValueError):
        alert_id({"event": {}, "botwatch": {}})
    with pytest.raises(TypeError):
        alert_id(["not", "a", "doc"])
    key = digest_key(["b", "a", "c"])
    assert key == digest_key(["c", "b", "a"]) != digest_key(["a", "b"])
    assert key == "digest-" + hashlib.sha256(b"a,b,c").hexdigest()[:32]


def test_slack_single_alert_card():
    payload = slack_message(DOCS[:1], digest=False)
    assert payload["text"] == "HIGH behavioural_bots: 144.76.95.39 (score 99.6)"
    assert [b["type"] for b in payload["blocks"]] == ["section"] * 4 + ["context"]
    joined = "\n".join(texts(payload))
    assert "*HIGH* · behavioural_bots · `144.76.95.39` · score *99.6* (threshold 95)" in joined
    assert "• `robots_txt = 1 (median 0, p100)`" in joined
    assert "• `status_4xx_share = 0.56 (median 0, p96)`" in joined
    assert "```\n2015-05-20T10:05:03Z GET /robots.txt 200" in joined
    assert "declared crawler MJ12bot" in joined
    assert "unsupervised-ensemble-20150520T000000Z-7eefad122d" in joined


def test_slack_shows_at_most_three_samples():
    doc = copy.deepcopy(DOCS[0])
    doc["botwatch"]["sample_requests"] = [f"GET /page/{i} 200" for i in range(8)]
    joined = "\n".join(texts(slack_message([doc], digest=False)))
    assert "/page/2 " in joined and "/page/3 " not in joined


@pytest.mark.parametrize("digest", [False, True])
def test_slack_hostile_content_is_inert(digest):
    payload = slack_message([HOSTILE, DOCS[0]], digest=digest)
    for text in texts(payload):
        assert "<" not in text and ">" not in text.replace("&gt;", "")  # every one escaped
        assert "\r" not in text
        assert not any(line.startswith(INJECTED) for line in text.split("\n"))
        # Fences only on their own lines, in pairs: content cannot close or open a block.
        fences = [line for line in text.split("\n") if "```" in line]
        assert all(line == "```" for line in fences) and len(fences) % 2 == 0
        assert text.count("`") % 2 == 0  # inline code spans all closed
    joined = "\n".join(texts(payload))
    assert "&lt;!channel&gt;" in joined and "&lt;script&gt;" in joined
    assert "1.2.3.4⏎Bcc: evil@example.net" in joined


def test_slack_limits_with_huge_fields_and_many_alerts():
    doc = copy.deepcopy(HOSTILE)
    doc["botwatch"]["reason"] = "<!channel>" * 2000
    doc["botwatch"]["entity"] = "&" * 5000
    doc["botwatch"]["sample_requests"] = ["<" * 9000] * 3
    doc["botwatch"]["top_features"] *= 200
    doc["user_agent"]["original"] = ">" * 9000
    for digest in (False, True):
        payload = slack_message([doc], digest=digest)
        assert all(len(t) <= SLACK_SECTION_LIMIT for t in texts(payload))
        json.dumps(payload)

    docs = many(120)
    for digest in (False, True):
        payload = slack_message(docs, digest=digest)
        blocks = payload["blocks"]
        assert len(blocks) <= SLACK_MAX_BLOCKS
        shown = sum("`10.0." in t for t in texts(payload)[1:])
        assert 0 < shown < 120
        assert blocks[-1]["elements"][0]["text"] == f"+{120 - shown} more alerts not shown"
    assert shown == SLACK_MAX_BLOCKS - 2  # digest: summary + one section each + "more"


def test_slack_digest_lists_all_that_fit_without_more_line():
    payload = slack_message(DOCS, digest=True)
    assert payload["blocks"][0]["text"]["text"].startswith("*botwatch: 3 alerts*")
    assert "worst critical" in payload["blocks"][0]["text"]["text"]
    assert len(payload["blocks"]) == 4 and "more" not in json.dumps(payload["blocks"][-1])


def test_plain_text_keeps_log_content_on_its_lines():
    text = plain_text(DOCS)
    assert text.startswith("botwatch: 3 alerts (behavioural_bots)\n")
    assert "Entity:           1.2.3.4⏎Bcc: evil@example.net (client)" in text
    assert "  - robots_txt = 1 (median 0, p100)" in text
    assert not any(line.lstrip().startswith(INJECTED) for line in text.splitlines())
    assert "\r" not in text and "\u202e" not in text


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs |= {name for name, _ in attrs}

    def handle_data(self, data):
        self.text += data


def test_html_body_escapes_everything_and_loads_nothing():
    body = html_body(DOCS)
    parser = _Tags()
    parser.feed(body)
    allowed = {"html", "head", "meta", "title", "body", "h2", "h3", "table", "tr", "th", "td"}
    assert parser.tags <= allowed | {"p", "ul", "li", "pre", "hr"}
    assert parser.attrs <= {"style", "charset"}  # no src/href: nothing fetched, no scripts
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script" not in body.lower()
    assert "<!channel> <script>alert(1)</script>⏎X-Injected" in parser.text  # shown as text


def test_subject_is_one_short_line():
    assert subject(DOCS[:1], "[botwatch]") == (
        "[botwatch] HIGH behavioural_bots: 144.76.95.39 (score 99.6)"
    )
    hostile = subject([HOSTILE], "[bw]\r\nBcc: x@y")
    assert "\r" not in hostile and "\n" not in hostile
    assert hostile.startswith("[bw]⏎Bcc: x@y MEDIUM behavioural_bots: 1.2.3.4⏎Bcc:")
    digest = subject(many(40), "[botwatch]")
    assert digest.startswith("[botwatch] 40 alerts, behavioural_bots (worst CRITICAL): 10.0.0.0")
    assert len(digest) <= 150 and "\n" not in digest
    long = copy.deepcopy(DOCS[0])
    long["botwatch"]["entity"] = "x" * 1000
    cut = subject([long])
    assert len(cut) <= 150 and "x…" in cut and cut.endswith("(score 99.6)")  # score survives


def test_renderers_cope_with_a_minimal_document():
    doc = {"event": {"id": "a" * 64}, "botwatch": {"use_case": "uc", "entity": "e"}}
    assert "uc" in plain_text([doc]) and "uc" in html_body([doc])
    assert subject([doc]) == "[botwatch] ALERT uc: e (score )"
    assert slack_message([doc], digest=False)["blocks"]
