"""Shared test set-up: Airflow pointed at the repo, one SparkSession, the ``spark`` marker.

A JVM start costs 20-40 s here, so every Spark test shares one session of one Spark Connect
server, as botwatch runs by default: started once for the run (or the server ``$BOTWATCH_SPARK_
REMOTE`` names), and exported so the DAG runs the tests start use it too.
``BOTWATCH_TEST_SPARK_MODE=classic`` runs the same tests on a classic in-process session (and
classic spark-submits) instead. Builders and servers the tests share live in ``tests/support``.
"""

from __future__ import annotations

import logging
import os
import sys

import pytest

from tests.support.paths import REPO

# Airflow reads its settings at import: point it at the repo before any test imports it.
os.environ.setdefault("AIRFLOW_HOME", str(REPO / ".airflow" / "pytest"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# assertDataFrameEqual imports pandas-on-Spark, which warns unless this is set.
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def spark_remote(tmp_path_factory):
    """The Spark Connect URL of the run's Spark tests and DAG runs, or None in classic mode."""
    from spark_jobs.session import REMOTE_ENV

    if os.environ.get("BOTWATCH_TEST_SPARK_MODE", "connect") == "classic":
        os.environ[REMOTE_ENV] = ""
        yield None
        return
    if os.environ.get(REMOTE_ENV):
        from spark_jobs.errors import SparkServerUnavailable
        from spark_jobs.session import require_server

        try:
            require_server(os.environ[REMOTE_ENV])
        except SparkServerUnavailable as exc:
            pytest.exit(f"tests: {exc}", returncode=3)
        yield os.environ[REMOTE_ENV]
        return
    from tests.support.spark_server import test_connect_server

    with test_connect_server(tmp_path_factory.mktemp("spark-connect")) as url:
        os.environ[REMOTE_ENV] = url
        yield url
        os.environ.pop(REMOTE_ENV, None)


@pytest.fixture(scope="session")
def spark(spark_remote):
    """The one SparkSession of the run (profile ``test``: few partitions; classic: two
    threads and a fast-start JVM)."""
    from spark_jobs.session import spark_session

    session = spark_session("botwatch-tests", "test")
    yield session
    session.stop()


def pytest_collection_modifyitems(config, items):
    """Mark every test that needs a JVM, so ``pytest -m "not spark"`` runs the rest in seconds.

    A test needs one when it asks for the ``spark`` fixture (directly or through another
    fixture) or is an end-to-end run that starts spark-submit itself (``e2e``).
    """
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "spark" in names or "spark_remote" in names or item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.spark)


# py4j logs at INFO while the interpreter shuts down, after pytest closed its capture streams.
logging.getLogger("py4j").setLevel(logging.WARNING)


@pytest.fixture(autouse=True)
def _spark_for_e2e(request):
    """End-to-end tests start spark-submits of their own: they get the run's server too."""
    if request.node.get_closest_marker("e2e"):
        request.getfixturevalue("spark_remote")
