"""``make airflow`` / ``make down`` through the same code: real Airflow services on loopback."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest
from botwatch_airflow.services import airflow_services, processes

from spark_jobs.config.loading import config_files, load_usecase
from tests.support.paths import REPO


def _run(action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "botwatch_airflow.services.airflow_services", action],
        env=env, capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip


def _wait_for_dags(expected: set[str]) -> set[str]:
    seen: set[str] = set()
    api = airflow_services.RestClient()

    def _listed() -> bool:
        seen.clear()
        seen.update(d["dag_id"] for d in api.get("/api/v2/dags?limit=100")["dags"])
        return expected <= seen

    processes.wait_until(_listed, [], what="the DAG list", timeout_s=180, every_s=3)
    return seen


@pytest.mark.e2e
def test_airflow_up_serves_every_dag_on_loopback_and_down_leaves_no_process(tmp_path, monkeypatch):
    # In this process too: the REST client reads the same settings as the services.
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.setenv("AIRFLOW_PORT", str(processes.free_port()))
    monkeypatch.delenv("AIRFLOW_ADMIN_PASSWORD", raising=False)
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    up = _run("up", env)
    try:
        assert up.returncode == 0, up.stderr
        assert f"Airflow UI: http://127.0.0.1:{env['AIRFLOW_PORT']}" in up.stdout
        assert "login:      admin / " in up.stdout
        expected = {load_usecase(p).id for p in config_files(REPO / "usecase_configs")}
        assert expected <= _wait_for_dags(expected)
        again = _run("up", env)
        assert again.returncode == 0 and again.stdout.count("already running") == 3
        run_dir = tmp_path / "airflow" / "run"
        pids = [
            int((run_dir / f"{name}.pid").read_text().split()[0])
            for name in airflow_services.SERVICES
        ]
        tree = {
            p.pid
            for pid in pids
            for p in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        }
        listening = {
            c.laddr.ip
            for c in psutil.net_connections("tcp")
            if c.status == "LISTEN" and c.pid in tree
        }
        assert listening == {"127.0.0.1"}
    finally:
        down = _run("down", env)
    assert down.returncode == 0, down.stderr
    left = [
        pid
        for pid in tree
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert left == []
    assert _run("down", env).stdout.count("not running") == 3
