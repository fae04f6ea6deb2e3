"""One live Airflow (``make airflow``'s code) for the tests of this folder, shared by the
services, backfill and UI tests, and the first backfill through its scheduler (it costs
minutes: run once). Package scope: ``make down``'s code stops it once this folder's tests are
done, so it does not idle beside the rest of the suite."""

from __future__ import annotations

import pytest

from spark_jobs.config.loading import load_all
from tests.support.live_airflow import BACKFILL_DAYS, LIVE_USECASE, LiveAirflow, running_airflow


@pytest.fixture(scope="package")
def live_airflow(tmp_path_factory, spark_remote) -> LiveAirflow:
    with running_airflow(tmp_path_factory.mktemp("live")) as live:
        yield live


@pytest.fixture(scope="package")
def live_dag_ids(live_airflow) -> set[str]:
    """Every valid config's DAG id, once the DAG processor has listed them all."""
    good, _ = load_all(live_airflow.project / "usecase_configs", home=live_airflow.project)
    expected = {usecase.id for _, usecase in good}
    live_airflow.wait_for_dags(expected)
    return expected


@pytest.fixture(scope="package")
def backfilled(live_airflow, live_dag_ids):
    """Unpause the live use case and backfill three local days through the scheduler."""
    api = live_airflow.api()
    api.patch(f"/api/v2/dags/{LIVE_USECASE}", {"is_paused": False})
    first, last = BACKFILL_DAYS
    result = live_airflow.backfill("--usecase", LIVE_USECASE, "--from", first, "--to", last)
    live_airflow.timings["backfill"] = live_airflow.timings["backfills"][-1]
    return result
