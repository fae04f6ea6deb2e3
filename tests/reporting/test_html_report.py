"""The HTML run report: structure, self-containment, determinism, and hostile log content.

The example run is tests/fixtures/report_example.json (the same data as the README screenshot);
each test derives its variant from a deep copy. The Chromium tests load the file in a real
browser, since only a browser's DOM shows what an escaping slip would actually do.
"""

from __future__ import annotations

import base64
import copy
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from spark_jobs.reporting.html_report import MAX_ALERTS, render_report, title
from spark_jobs.reporting.plots import threshold_counts
from tests.support.chromium import dump_dom, find_chromium, load_example, png_size, screenshot

SECTIONS = ("summary", "counts", "scores", "alerts", "suppressed", "trend")
HEADINGS = ["Summary", "Pipeline counts", "Score distribution", "Alerts", "Suppressed", "Trend"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HOSTILE = f"{SCRIPT}{IMG}<!channel>\n\"quoted\" 'single'\u202eevil"
URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data", "background"}


class Doc(HTMLParser):
    """Every start tag with its attributes, the text under each tag name, and declarations."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, list[str]] = {}
        self.decls: list[str] = []
        self.comments: list[str] = []
        self._open: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("title", "h2", "style"):
            self._open.append(tag)
            self.text.setdefault(tag, []).append("")

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self.text[self._open[-1]][-1] += data

    def handle_decl(self, decl: str) -> None:
        self.decls.append(decl)

    def unknown_decl(self, data: str) -> None:
        self.decls.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]


@pytest.fixture
def example() -> dict[str, Any]:
    return load_example()


def _hostile(data: dict[str, Any]) -> dict[str, Any]:
    """Attacker text in every field that comes from log lines (and a few that should not)."""
    data = copy.deepcopy(data)
    bw = data["alerts"][0]["botwatch"]
    bw["entity"] = data["alerts"][0]["source"]["address"] = HOSTILE
    data["alerts"][0]["user_agent"]["original"] = HOSTILE
    bw["crawler_name"] = HOSTILE
    bw["reason"] = HOSTILE
    bw["session"]["id"] = HOSTILE
    bw["top_features"][0]["feature"] = HOSTILE
    bw["sample_requests"] = [f"2015-05-20T10:05:03Z GET /{HOSTILE} 200", HOSTILE]
    data["suppressed"][0] = {"entity": HOSTILE, "score": 99.0, "suppression": HOSTILE}
    data["sinks"][0]["name"] = HOSTILE
    data["outputs"]["alerts"] = HOSTILE
    data["counts"][HOSTILE] = 1
    return data


def _alert(i: int) -> dict[str, Any]:
    return {"botwatch": {"entity": f"10.1.{i // 256}.{i % 256}", "score": 99.0, "severity": "low"}}


# --- pure Python ----------------------------------------------------------------------------


def test_every_section_has_its_id_and_heading(example: dict[str, Any]) -> None:
    doc = Doc(render_report(example))
    ids = [a.get("id") for t, a in doc.tags if t == "section"]
    assert ids == list(SECTIONS)
    assert doc.text["h2"] == HEADINGS
    assert doc.text["title"] == [title(example)]


def test_three_plots_are_inline_pngs(example: dict[str, Any]) -> None:
    imgs = Doc(render_report(example)).named("img")
    assert len(imgs) == 3
    for img in imgs:
        assert img["alt"]
        src = img["src"] or ""
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png[:8] == PNG_MAGIC and len(png) > 5000
        assert b"Software" not in png  # the Agg version would make the bytes vary


def test_nothing_is_fetched(example: dict[str, Any]) -> None:
    markup = render_report(example)
    doc = Doc(markup)
    for tag, attrs in doc.tags:
        for name, value in attrs.items():
            if name in URL_ATTRS:
                assert not re.match(r"\s*(https?:)?//", value or "", re.I), (tag, name, value)
        assert tag not in ("script", "link", "iframe", "object", "embed", "base")
    assert "url(" not in "".join(doc.text["style"]) and "@import" not in markup
    csp = [a for a in doc.named("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in (csp[0]["content"] or "")


def test_same_input_same_bytes(example: dict[str, Any]) -> None:
    before = copy.deepcopy(example)
    assert render_report(example) == render_report(copy.deepcopy(example))
    assert example == before  # rendering must not mutate the caller's dict


def test_missing_counts_and_model_show_na(example: dict[str, Any]) -> None:
    example["counts"] = dict.fromkeys(example["counts"])
    example["model_version"] = None
    markup = render_report(example)
    counts = markup.split('<section id="counts">')[1].split("</table>")[0]
    assert counts.count('<span class="na">n/a</span>') == 9
    assert "None" not in markup
    assert len(Doc(markup).named("img")) == 3
    render_report({**example, "counts": {}})  # and a stage missing entirely


def test_empty_run(example: dict[str, Any]) -> None:
    example.update(alerts=[], suppressed=[], trend=example["trend"][-1:])
    markup = render_report(example)
    assert "No alerts for this interval." in markup
    assert "Nothing was suppressed in this interval." in markup
    assert len(Doc(markup).named("img")) == 3  # a one-point trend still plots
    empty = render_report({**example, "trend": [], "score_histogram": []})
    assert "No earlier runs recorded." in empty and "No score histogram." in empty


def test_alert_list_is_capped(example: dict[str, Any]) -> None:
    example["alerts"] = [_alert(i) for i in range(MAX_ALERTS + 7)]
    markup = render_report(example)
    assert len(Doc(markup).named("article")) == MAX_ALERTS
    assert "+7 more alerts" in markup


def test_sparse_alert_renders(example: dict[str, Any]) -> None:
    alert = example["alerts"][1]
    del alert["source"], alert["user_agent"], alert["botwatch"]["crawler_name"]
    alert["botwatch"]["top_features"] = [{"feature": "x", "value": None, "percentile": None}]
    markup = render_report(example)
    assert "93.184.216.34" in markup


def test_long_log_strings_are_capped(example: dict[str, Any]) -> None:
    example["alerts"][0]["user_agent"]["original"] = "A" * 5000
    example["alerts"][0]["botwatch"]["sample_requests"] = ["B" * 5000]
    example["alerts"][0]["botwatch"]["reason"] = "C" * 5000
    markup = render_report(example)
    assert "A" * 299 + "…" in markup and "A" * 300 not in markup
    assert "B" * 299 + "…" in markup and "B" * 300 not in markup
    assert "C" * 499 + "…" in markup and "C" * 500 not in markup


def test_sessions_above_threshold(example: dict[str, Any]) -> None:
    assert "<strong>36</strong> of 754 scored sessions" in render_report(example)
    hist = [1] * 100
    assert threshold_counts(hist, 95.0) == (5, 5, 100)
    assert threshold_counts(hist, 95.5) == (4, 5, 100)  # bin 95-96 straddles the threshold
    assert threshold_counts(hist, 100.0) == (0, 1, 100)  # score 100 sits in the last bin


# --- hostile content ------------------------------------------------------------------------


def test_hostile_log_content_stays_text(example: dict[str, Any]) -> None:
    markup = render_report(_hostile(example))
    doc = Doc(markup)
    assert not [t for t, _ in doc.tags if t in ("script", "iframe", "object", "embed")]
    assert not [a for _, attrs in doc.tags for a in attrs if a.startswith("on")]
    assert len(doc.named("img")) == 3
    assert [d.lower() for d in doc.decls] == ["doctype html"]  # <!channel> stayed text
    assert not doc.comments
    for raw in (SCRIPT, IMG, "<!channel>", "\u202e", "'single'", '"quoted"'):
        assert raw not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;!channel&gt;" in markup
    assert "\\n&#34;quoted&#34; &#39;single&#39;\\u202eevil" in markup  # markupsafe's entities
    assert doc.text["title"] == [title(example)]


# --- in a browser ---------------------------------------------------------------------------


@pytest.fixture
def browser() -> None:
    if find_chromium() is None:
        if os.environ.get("BOTWATCH_REQUIRE_CHROMIUM") == "1":
            pytest.fail("BOTWATCH_REQUIRE_CHROMIUM=1 but no Chromium found")
        pytest.skip("no Chromium on this machine")


def _write(tmp_path: Path, data: dict[str, Any], name: str = "report.html") -> Path:
    path = tmp_path / name
    path.write_text(render_report(data), encoding="utf-8")
    return path


@pytest.mark.usefixtures("browser")
def test_browser_dom(tmp_path: Path, example: dict[str, Any]) -> None:
    dom = Doc(dump_dom(_write(tmp_path, example)))
    assert dom.text["h2"] == HEADINGS
    assert [a.get("id") for t, a in dom.tags if t == "section"] == list(SECTIONS)
    assert len(dom.named("img")) == 3
    assert not dom.named("script")


@pytest.mark.usefixtures("browser")
def test_browser_dom_hostile(tmp_path: Path, example: dict[str, Any]) -> None:
    dom = Doc(dump_dom(_write(tmp_path, _hostile(example))))
    assert not dom.named("script")
    assert not [a for _, attrs in dom.tags for a in attrs if a.startswith("on")]
    assert len(dom.named("img")) == 3
    assert dom.text["title"] == [title(example)]
    assert len(dom.named("article")) == len(example["alerts"])


@pytest.mark.usefixtures("browser")
def test_browser_screenshot(tmp_path: Path, example: dict[str, Any]) -> None:
    png = screenshot(_write(tmp_path, example), tmp_path / "shot.png", 900, 1400)
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert png.stat().st_size > 50_000  # a blank page is a few KB
    assert png_size(png) == (900, 1400)
