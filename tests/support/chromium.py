"""Headless Chromium for the report tests: what a real browser builds from our HTML.

The string checks in the tests only prove what we wrote; a browser's DOM proves what a reader
gets (an escape slip turns into a live element there). Each call starts a fresh browser with a
throwaway profile, with background networking off: the test machines have no network, and
without those flags Chromium keeps retrying it.

Regenerate the README screenshot from the repo root with::

    .venv/bin/python -c "from tests.chromium import write_example_screenshot as w; w()"
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from tests.support.paths import FIXTURES, REPO

EXAMPLE = FIXTURES / "report_example.json"
TIMEOUT_S = 60
_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell")
_FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container has no user namespace for the sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)


def find_chromium() -> str | None:
    """BOTWATCH_CHROMIUM if set, else the first Chromium-like browser on PATH."""
    explicit = os.environ.get("BOTWATCH_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return next((p for p in map(shutil.which, _NAMES) if p), None)


def _run(args: list[str]) -> str:
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError("no Chromium found (set BOTWATCH_CHROMIUM)")
    with tempfile.TemporaryDirectory(prefix="botwatch-chromium-") as profile:
        proc = subprocess.run(
            [browser, *_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout


def dump_dom(html_path: str | os.PathLike[str]) -> str:
    """The serialized DOM after load (the page has no scripts, so no budget is needed)."""
    return _run(["--dump-dom", Path(html_path).resolve().as_uri()])


def screenshot(
    html_path: str | os.PathLike[str], png_path: str | os.PathLike[str], width: int, height: int
) -> Path:
    """A width x height PNG of the top of the page; data: images are decoded within the budget."""
    out = Path(png_path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)  # a stale file must not pass for a fresh screenshot
    _run(
        [
            f"--screenshot={out}",
            f"--window-size={width},{height}",
            "--virtual-time-budget=2000",
            "--force-device-scale-factor=1",
            Path(html_path).resolve().as_uri(),
        ]
    )
    if not out.is_file():
        raise RuntimeError(f"chromium wrote no screenshot to {out}")
    return out


def png_size(png_path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, so tests need no imaging library."""
    head = Path(png_path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{png_path} is not a PNG")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def load_example() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def write_example_screenshot(
    path: str | os.PathLike[str] = REPO / "docs" / "report-example.png",
    width: int = 1100,
    height: int = 2450,
) -> Path:
    """Render tests/fixtures/report_example.json and screenshot it for the README."""
    from spark_jobs.reporting.html_report import render_report

    with tempfile.TemporaryDirectory(prefix="botwatch-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(render_report(load_example()), encoding="utf-8")
        return screenshot(page, path, width, height)
