"""Shared test set-up: Airflow pointed at the repo, one local SparkSession, the ``spark`` marker.

A JVM start costs 20-40 s here, so every Spark test shares one session; builders and servers
the tests share live in ``tests/support``.
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
def spark():
    """The one local SparkSession of the run (profile ``test``: two threads, a fast-start JVM)."""
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
        if "spark" in getattr(item, "fixturenames", ()) or item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.spark)


# py4j logs at INFO while the interpreter shuts down, after pytest closed its capture streams.
logging.getLogger("py4j").setLevel(logging.WARNING)
