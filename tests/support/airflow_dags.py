"""Real DAG runs for end-to-end tests: ``airflow dags test`` in a throwaway Airflow home and lake.

Shared by the local run (tests/botwatch_airflow/test_e2e_dag.py) and the run on a standalone
cluster (tests/botwatch_airflow/services/test_spark_cluster.py), which differ only in the Spark
connection they give.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from spark_jobs.session import REMOTE_ENV
from tests.support.paths import REPO

VENV_BIN = Path(sys.executable).parent
SUBMIT_SHIM_DIR = REPO / "plugins" / "botwatch_airflow" / "bin"
#: The embedded default: every stage in its driver's JVM.
LOCAL_SPARK = json.dumps({"conn_type": "spark", "host": "local[*]"})


def write_usecase(configs: Path, usecase: str = "behavioural_bots", **overrides: object) -> Path:
    """Copy a shipped use case (and ``_defaults.yaml``) into ``configs``, top-level keys
    replaced by ``overrides``; return the new file."""
    configs.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "usecase_configs" / "_defaults.yaml", configs)
    config = yaml.safe_load((REPO / "usecase_configs" / f"{usecase}.yaml").read_text())
    config.update(overrides)
    path = configs / f"{usecase}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def checkout_env(**settings: str) -> dict[str, str]:
    """This environment without its Airflow and botwatch settings, plus what every test's
    ``airflow`` needs (this checkout's plugins and code, the venv, Spark on loopback, the run's
    Spark Connect server), plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BOTWATCH"))}
    # The run's Spark Connect server (tests/conftest.py), unless ``settings`` says otherwise.
    env[REMOTE_ENV] = os.environ.get(REMOTE_ENV, "")
    env.update(
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        # botwatch's spark-submit first, as make airflow has it (spark_jobs.stage.launcher)
        PATH=os.pathsep.join([str(SUBMIT_SHIM_DIR), str(VENV_BIN), env.get("PATH", "")]),
        PYSPARK_PYTHON=sys.executable,
        SPARK_LOCAL_IP="127.0.0.1",
        GX_ANALYTICS_ENABLED="false",
        # This checkout's code, also when the venv's editable install points at another one.
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "plugins")]),
    )
    env.update(settings)
    return env


def airflow_test_env(
    root: Path,
    *,
    configs: Path,
    lake: Path,
    spark_connection: str = LOCAL_SPARK,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of an ``airflow`` command on a fresh SQLite home under ``root`` (migrated
    here), this checkout's DAGs and code, the configs of ``configs`` and the lake ``lake``."""
    env = checkout_env(
        AIRFLOW_HOME=str(root / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW_CONN_SPARK_DEFAULT=spark_connection,
        BOTWATCH_CONFIG_DIR=str(configs),
        BOTWATCH_LAKE=str(lake),
    )
    env.update(extra or {})
    migrate = subprocess.run(
        ["airflow", "db", "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
    return env


def dags_test(
    env: Mapping[str, str], dag_id: str, logical_date: str
) -> subprocess.CompletedProcess:
    """One DAG run, every task in this process tree (``airflow dags test``)."""
    return subprocess.run(
        ["airflow", "dags", "test", dag_id, logical_date],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=1500,
    )


def partition(lake: Path, dataset: str, use_case: str, key: str) -> Path:
    return lake / dataset / f"use_case={use_case}" / f"interval={key}"
