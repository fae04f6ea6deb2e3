"""The Airflow UI of ``make airflow`` in headless Chromium, after a backfill through it: the
login page, every config's DAG in the list, the broken config as an import error naming its
file and key, a DAG's seven tasks in the graph, and the stage summary in a task's log.

``BOTWATCH_SCREENSHOTS=docs`` also writes the README's screenshots (tests/support/airflow_ui.py).
"""

from __future__ import annotations

import re

import pytest

from tests.support.airflow_ui import (
    LAUNCH_ARGS,
    TIMEOUT_MS,
    VIEWPORT,
    chromium_or_skip,
    log_in,
    run_url,
    save_screenshot,
    shot_on_failure,
)
from tests.support.live_airflow import BROKEN_FILE, BROKEN_KEY, LIVE_TIMEZONE, LIVE_USECASE, TASKS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser():
    executable = chromium_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def signed_in(browser, live_airflow):
    """One browser context signed in as the admin, shared by the tests of this module."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    log_in(page, live_airflow.base_url, live_airflow.password)
    page.wait_for_url(f"{live_airflow.base_url}/", timeout=TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(signed_in, tmp_path_factory, request):
    page = signed_in.new_page()
    with shot_on_failure(page, tmp_path_factory.mktemp("ui-failures"), request.node.name):
        yield page
    page.close()


@pytest.fixture(scope="module")
def finished_run(live_airflow, backfilled) -> str:
    """The run id of the backfill's first interval (finished: the backfill fixture waited)."""
    runs = live_airflow.api().get(
        f"/api/v2/dags/{LIVE_USECASE}/dagRuns?run_type=backfill&order_by=logical_date"
    )["dag_runs"]
    done = [run["dag_run_id"] for run in runs if run["state"] == "success"]
    assert done, runs
    return done[0]


def test_the_login_page_rejects_a_wrong_password_and_admits_the_admin(
    browser, live_airflow, tmp_path_factory
):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        with shot_on_failure(page, tmp_path_factory.mktemp("ui-failures"), "login"):
            log_in(page, live_airflow.base_url, "not-the-password")
            page.wait_for_timeout(2000)
            assert "/auth/login" in page.url
            page.get_by_label("Password").fill(live_airflow.password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{live_airflow.base_url}/", timeout=TIMEOUT_MS)
            page.get_by_role("heading", name="Welcome").wait_for()
    finally:
        context.close()


def test_the_dag_list_shows_every_configs_dag(page, live_airflow, live_dag_ids, backfilled):
    page.goto(f"{live_airflow.base_url}/dags")
    page.get_by_text(f"{len(live_dag_ids)} Dags").wait_for()
    page.get_by_role("button", name="Show table view").click()  # every DAG on one screen
    for dag_id in sorted(live_dag_ids):
        page.get_by_role("link", name=dag_id, exact=True).first.wait_for()
    page.wait_for_timeout(1500)  # the latest-run icons load after the rows
    save_screenshot(page, "ui-dag-list.png")


def test_a_broken_config_is_an_import_error_naming_its_file_and_key(page, live_airflow):
    page.goto(f"{live_airflow.base_url}/dags")
    # The valid configs' DAGs are listed ...
    page.get_by_role("link", name=LIVE_USECASE, exact=True).first.wait_for()
    # ... and the badge beside their count opens the import errors.
    page.get_by_role("button", name=re.compile("import error", re.IGNORECASE)).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name=re.compile(r"botwatch_config_errors\.py")).click()
    trace = dialog.locator("code")
    trace.wait_for()
    text = trace.inner_text()
    assert f"usecase_configs/{BROKEN_FILE}: {BROKEN_KEY}: unknown key" in text
    assert "1 use-case config(s) cannot be loaded, so their DAGs are missing" in text


def test_a_runs_graph_shows_the_seven_tasks_in_order(page, live_airflow, finished_run):
    page.goto(run_url(live_airflow.base_url, LIVE_USECASE, finished_run))
    page.get_by_role("button", name=re.compile("Show Graph")).click()
    page.get_by_test_id("rf__wrapper").wait_for()
    for task_id in TASKS:  # React Flow's node ids are the task ids
        node = page.get_by_test_id(f"rf__node-{task_id}")
        node.get_by_text(task_id, exact=True).wait_for()
        node.get_by_text("success").wait_for()
    for upstream, downstream in zip(TASKS, TASKS[1:], strict=False):
        page.get_by_test_id(f"rf__edge-{upstream}-{downstream}").wait_for(state="attached")
    assert page.locator("[data-testid^='rf__node-']").count() == len(TASKS)
    # The graph beside the run's details is small: give it the page's width for the screenshot.
    page.get_by_role("button", name="Collapse Details Panel").click()
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Fit View").click()
    page.wait_for_timeout(1500)
    save_screenshot(page, "ui-dag-run.png")


@pytest.mark.parametrize("task_id", ["ingest", "deliver"])
def test_a_finished_tasks_log_ends_with_its_stage_summary(
    page, live_airflow, finished_run, task_id
):
    page.goto(run_url(live_airflow.base_url, LIVE_USECASE, finished_run, task_id))
    page.get_by_text(f"botwatch {task_id} ok").first.wait_for()
    summary = page.get_by_text(re.compile(rf"interval .*UTC \(24 h\) .*{LIVE_TIMEZONE}"))
    summary.first.wait_for()
    page.get_by_text(re.compile(r"took\s+\d")).first.wait_for()
