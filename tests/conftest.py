"""One local SparkSession for the whole test run: a JVM start costs 20-40 s here."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Airflow reads its settings at import: point it at the repo before any test imports it.
os.environ.setdefault("AIRFLOW_HOME", str(REPO / ".airflow" / "pytest"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
if str(REPO / "plugins") not in sys.path:
    sys.path.append(str(REPO / "plugins"))
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# assertDataFrameEqual imports pandas-on-Spark, which warns unless this is set.
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("botwatch-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )
    yield session
    session.stop()


# py4j logs at INFO while the interpreter shuts down, after pytest closed its capture streams.
logging.getLogger("py4j").setLevel(logging.WARNING)
