"""The Airflow 3 UI in headless Chromium (Debian's ``chromium``, driven by Playwright).

Selectors are what a person reads (labels, button names, texts), not CSS classes of the
compiled React app, and every wait is generous: the test machines are small and shared.
A failed step saves a full-page screenshot (``shot_on_failure``) next to the test's tmp files.

Regenerate the README screenshots (a live Airflow with a finished backfill is needed, so the
UI test makes them)::

    BOTWATCH_SCREENSHOTS=docs .venv/bin/python -m pytest -q tests/botwatch_airflow/services/test_airflow_ui.py
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.chromium import find_chromium
from tests.support.paths import REPO

#: Milliseconds for any element to appear (the UI polls the API; the machine may be loaded).
TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1280, "height": 800}
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync"]  # fmt: skip


def chromium_or_skip() -> str:
    """The browser; a skip when there is none, a failure when BOTWATCH_REQUIRE_CHROMIUM=1 (CI)."""
    browser = find_chromium()
    if browser is None:
        if os.environ.get("BOTWATCH_REQUIRE_CHROMIUM") == "1":
            pytest.fail("BOTWATCH_REQUIRE_CHROMIUM=1 but no Chromium found")
        pytest.skip("no Chromium (apt-get install chromium)")
    return browser


def log_in(page, base_url: str, password: str, user: str = "admin") -> None:
    """Open the UI, which sends a new visitor to the SimpleAuthManager form, and sign in.

    The UI's own script redirects to the form; on a loaded machine that redirect can abort the
    navigation Chromium is still in (``net::ERR_ABORTED``), so the visit is tried again.
    """
    for attempt in range(3):
        try:
            page.goto(f"{base_url}/")
            page.wait_for_url("**/auth/login**", timeout=TIMEOUT_MS)
            break
        except Exception as exc:  # noqa: BLE001 - playwright's Error; only an abort is retried
            if "ERR_ABORTED" not in str(exc) or attempt == 2:
                raise
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def run_url(base_url: str, dag_id: str, run_id: str, task_id: str | None = None) -> str:
    url = f"{base_url}/dags/{dag_id}/runs/{quote(run_id, safe='')}"
    return f"{url}/tasks/{task_id}" if task_id else url


def screenshot_dir() -> Path | None:
    """Where to write the README screenshots: ``$BOTWATCH_SCREENSHOTS`` (relative to the
    repository), or None to write none."""
    folder = os.environ.get("BOTWATCH_SCREENSHOTS")
    return (REPO / folder) if folder else None


def save_screenshot(page, name: str) -> Path | None:
    """``<BOTWATCH_SCREENSHOTS>/<name>``, the viewport only (1280x800 keeps the PNG small)."""
    folder = screenshot_dir()
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path))
    return path


@contextlib.contextmanager
def shot_on_failure(page, folder: Path, name: str) -> Iterator[None]:
    """On any failure inside, save a full-page screenshot and name it in the error."""
    try:
        yield
    except BaseException as exc:
        path = folder / f"{name}.png"
        with contextlib.suppress(Exception):
            page.screenshot(path=str(path), full_page=True)
        exc.add_note(f"screenshot of the page: {path}")
        raise
