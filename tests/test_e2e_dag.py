"""End to end through Airflow: `airflow dags test` runs the six spark-submit stages of a use case.

Two DAG runs only (each costs minutes of JVM starts): one on a day of the real sample logs that
must end in alerts, one on corrupted logs that the validate gate must stop before any feature.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "tests" / "fixtures" / "logs" / "elastic_examples" / "apache_logs.gz"
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    configs = root / "configs"
    configs.mkdir()
    shutil.copy(REPO / "usecase_configs" / "_defaults.yaml", configs)
    shutil.copy(REPO / "usecase_configs" / "behavioural_bots.yaml", configs)
    corrupted_logs = root / "corrupted" / "access.log.gz"
    corrupted_logs.parent.mkdir()
    _write_corrupted_copy(SAMPLE, corrupted_logs)
    text = (configs / "behavioural_bots.yaml").read_text()
    text = text.replace("id: behavioural_bots", "id: corrupted_logs")
    text = text.replace(
        "path: ${BOTWATCH_LOGS:-tests/fixtures/logs/elastic_examples/*.gz}",
        f"path: {corrupted_logs}",
    )
    (configs / "corrupted_logs.yaml").write_text(text)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BOTWATCH"))}
    env.update(
        AIRFLOW_HOME=str(root / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_SPARK_DEFAULT='{"conn_type":"spark","host":"local[*]"}',
        BOTWATCH_CONFIG_DIR=str(configs),
        BOTWATCH_LAKE=str(root / "lake"),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        PYSPARK_PYTHON=sys.executable,
        SPARK_LOCAL_IP="127.0.0.1",
        GX_ANALYTICS_ENABLED="false",
        PYTHONPATH=str(REPO / "plugins"),
    )
    migrate = subprocess.run(
        ["airflow", "db", "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
    return env, root / "lake"


def _write_corrupted_copy(source: Path, target: Path) -> None:
    """The real sample with a third of its lines mangled and impossible status codes."""
    with gzip.open(source, "rt", encoding="utf-8") as src, gzip.open(target, "wt") as dst:
        for number, line in enumerate(src):
            if number % 3 == 0:
                dst.write("#@! corrupted by the test " + line.rstrip("\n")[::-1] + "\n")
            else:
                dst.write(line.replace('" 200 ', '" 999 ', 1))


def _dags_test(env: dict[str, str], dag_id: str, logical_date: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["airflow", "dags", "test", dag_id, logical_date],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1500,
    )


def _partition(lake: Path, dataset: str, use_case: str, key: str) -> Path:
    return lake / dataset / f"use_case={use_case}" / f"interval={key}"


def test_dag_run_on_real_logs_writes_alerts(airflow_env):
    env, lake = airflow_env
    # The run whose logical date is 2015-05-19 covers the data interval 2015-05-18 .. 05-19.
    result = _dags_test(env, "behavioural_bots", "2015-05-19T00:00:00+00:00")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    key = "20150518T000000Z"
    for dataset in ("parsed", "quarantine", "features", "scores", "alerts"):
        assert any(_partition(lake, dataset, "behavioural_bots", key).glob("*.parquet")), dataset
    runs = _partition(lake, "runs", "behavioural_bots", key)
    ingest = json.loads((runs / "ingest.json").read_text())
    assert ingest["read"] == ingest["parsed"] + ingest["quarantined"] + ingest["out_of_window"]
    assert ingest["parsed"] > 2000
    lines = (lake / "alerts.jsonl").read_text().splitlines()
    alerts = [json.loads(line) for line in lines]
    assert alerts, "the day's outliers should raise alerts"
    assert {a["interval_start"][:10] for a in alerts} == {"2015-05-18"}
    assert all(a["score"] >= 95 and a["top_features"] and a["reason"] for a in alerts)


def test_corrupted_logs_fail_the_validate_gate(airflow_env):
    env, lake = airflow_env
    result = _dags_test(env, "corrupted_logs", "2015-05-19T00:00:00+00:00")
    assert result.returncode != 0
    key = "20150518T000000Z"
    validate = json.loads(
        (_partition(lake, "runs", "corrupted_logs", key) / "validate.json").read_text()
    )
    assert validate["success"] is False
    assert any(_partition(lake, "validation", "corrupted_logs", key).glob("*.json"))
    # Nothing downstream of the gate ran.
    assert not _partition(lake, "features", "corrupted_logs", key).exists()
    assert not _partition(lake, "scores", "corrupted_logs", key).exists()
