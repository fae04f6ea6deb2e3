"""``make spark-cluster``: the daemons' command lines (no JVM), and one real DAG run on a
standalone master with two workers on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from botwatch_airflow.services import processes, spark_cluster
from botwatch_airflow.services.processes import ServiceError
from botwatch_airflow.services.spark_cluster import ClusterSettings

from spark_jobs.session import REMOTE_ENV
from spark_jobs.stage import SPARK_STAGES
from tests.support.airflow_dags import airflow_test_env, dags_test, partition, write_usecase


def _settings(tmp_path: Path, **fields: object) -> ClusterSettings:
    return ClusterSettings.from_env({"BOTWATCH_SPARK_RUN_DIR": str(tmp_path), **fields})


def test_defaults_leave_8080_to_airflow_and_use_the_venvs_spark(tmp_path):
    s = _settings(tmp_path)
    assert (s.master_url, s.webui_url) == ("spark://127.0.0.1:7077", "http://127.0.0.1:8090")
    assert [s.worker_webui(i) for i in (1, 2)] == [8091, 8092]
    assert s.spark_class.is_file() and (s.spark_home / "__init__.py").is_file()


def test_environment_overrides_ports_and_resources(tmp_path):
    s = _settings(
        tmp_path,
        SPARK_MASTER_PORT="17001",
        SPARK_MASTER_WEBUI_PORT="17002",
        SPARK_WORKER_WEBUI_PORT="0",
        SPARK_WORKERS="3",
        SPARK_WORKER_MEMORY="512m",
    )
    assert s.master_url == "spark://127.0.0.1:17001"
    assert [s.worker_webui(i) for i in (1, 2, 3)] == [0, 0, 0]
    assert len(spark_cluster.services(s)) == 4
    with pytest.raises(ValueError, match="worker_memory"):
        _settings(tmp_path, SPARK_WORKER_MEMORY="lots")


def test_master_and_worker_command_lines_bind_loopback(tmp_path):
    s = _settings(tmp_path, SPARK_MASTER_PORT="17001", SPARK_MASTER_WEBUI_PORT="17002")
    master = spark_cluster.master_argv(s)
    assert master[:2] == [str(s.spark_class), spark_cluster.MASTER_CLASS]
    assert master[2:] == ["--host", "127.0.0.1", "--port", "17001", "--webui-port", "17002"]
    second = spark_cluster.worker_argv(s, 2)
    assert second[1] == spark_cluster.WORKER_CLASS
    assert second[-1] == "spark://127.0.0.1:17001"
    options = dict(zip(second[2:-1:2], second[3:-1:2], strict=True))
    assert options == {
        "--host": "127.0.0.1",
        "--webui-port": "8092",
        "--cores": "1",
        "--memory": "2g",
        "--work-dir": str(tmp_path / "work" / "worker-2"),
    }


def test_daemons_bind_their_uis_to_loopback_and_never_move_to_another_port(tmp_path):
    env = spark_cluster.daemon_env(_settings(tmp_path))
    assert env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert "-Dspark.port.maxRetries=0" in env["SPARK_DAEMON_JAVA_OPTS"].split()
    assert env["SPARK_MASTER_OPTS"] == "-Dspark.master.rest.enabled=false"
    assert env["SPARK_LOCAL_DIRS"].startswith(str(tmp_path))


def test_connection_json_resolves_to_the_master_in_airflows_spark_hook(tmp_path, monkeypatch):
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    s = _settings(tmp_path, SPARK_MASTER_PORT="17001")
    monkeypatch.setenv("AIRFLOW_CONN_BW_CLUSTER_TEST", spark_cluster.connection_json(s))
    assert SparkSubmitHook(conn_id="bw_cluster_test")._connection["master"] == s.master_url


def test_ready_needs_this_master_and_every_worker_alive(tmp_path, monkeypatch):
    s = _settings(tmp_path, SPARK_MASTER_PORT="17001")
    alive, dead = {"state": "ALIVE"}, {"state": "DEAD"}
    states = {
        "one of two": {"url": s.master_url, "workers": [alive, dead]},
        "other master": {"url": "spark://127.0.0.1:7077", "workers": [alive, alive]},
        "ready": {"url": s.master_url, "workers": [dead, alive, alive]},
    }
    verdicts = {}
    for name, state in states.items():
        monkeypatch.setattr(spark_cluster, "master_state", lambda _s, state=state: state)
        verdicts[name] = spark_cluster._ready(s)
    assert verdicts == {"one of two": False, "other master": False, "ready": True}


def test_up_refuses_a_taken_port_before_starting_anything(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        s = _settings(tmp_path, SPARK_MASTER_WEBUI_PORT=str(port))
        with pytest.raises(ServiceError, match=f"spark-master: port.*{port}.*already in use"):
            spark_cluster.up(s, timeout_s=5)
    assert not list(tmp_path.glob("*.pid"))


def test_up_without_spark_class_says_what_spark_home_must_be(tmp_path):
    s = _settings(tmp_path, SPARK_HOME=str(tmp_path / "nospark"))
    with pytest.raises(ServiceError, match="SPARK_HOME must be a Spark distribution"):
        spark_cluster.up(s, timeout_s=5)


# --- one DAG run on a real cluster ------------------------------------------------------------


def _cluster_pids(s: ClusterSettings) -> set[int]:
    pids = {service.pid() for service, _ in spark_cluster.services(s)}
    return {p.pid for pid in pids if pid for p in processes._tree(pid)}


def _run(action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "botwatch_airflow.services.spark_cluster", action],
        env=env, capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip


@pytest.fixture
def cluster(tmp_path):
    """A master and two workers on free loopback ports under ``tmp_path``, started through the
    ``make spark-cluster`` entry point; stopped whatever the test did, and checked gone."""
    env = {
        **os.environ,
        "BOTWATCH_SPARK_RUN_DIR": str(tmp_path / "spark"),
        "SPARK_MASTER_PORT": str(processes.free_port()),
        "SPARK_MASTER_WEBUI_PORT": str(processes.free_port()),
        "SPARK_WORKER_WEBUI_PORT": "0",
    }
    settings = ClusterSettings.from_env(env)
    pids: set[int] = set()
    try:
        up = _run("up", env)
        pids = _cluster_pids(settings)
        assert up.returncode == 0, up.stdout + up.stderr
        yield settings
    finally:
        pids |= _cluster_pids(settings)
        down = _run("down", env)
        if down.returncode != 0:  # still leave nothing behind
            spark_cluster.down(settings)
    assert down.returncode == 0, down.stderr
    left = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert pids and not left


def _executor_logs(s: ClusterSettings) -> dict[int, list[Path]]:
    """Executor stderr files per worker: ``work/worker-N/<app>/<executor>/stderr``."""
    return {i: sorted(s.worker_dir(i).glob("app-*/*/stderr")) for i in range(1, s.workers + 1)}


@pytest.mark.e2e
def test_the_same_dag_runs_on_a_standalone_cluster(cluster, tmp_path):
    s = cluster
    state = spark_cluster.master_state(s)
    assert spark_cluster.alive_workers(state) == 2
    listening = {
        c.laddr.ip
        for c in psutil.net_connections("tcp")
        if c.status == "LISTEN" and c.pid in _cluster_pids(s)
    }
    assert listening and all(ip.removeprefix("::ffff:") == "127.0.0.1" for ip in listening)

    configs, lake = tmp_path / "configs", tmp_path / "lake"
    write_usecase(configs, alert={"sinks": [{"type": "file", "path": "alerts.jsonl"}]})
    # Classic spark-submits, one driver per stage, as on YARN: the path that needs no server.
    env = airflow_test_env(
        tmp_path,
        configs=configs,
        lake=lake,
        spark_connection=spark_cluster.connection_json(s),
        extra={REMOTE_ENV: ""},
    )
    result = dags_test(env, "behavioural_bots", "2015-05-19T00:00:00+00:00")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert f"spark-submit --master {s.master_url}" in output

    key = "20150518T000000Z"
    runs = partition(lake, "runs", "behavioural_bots", key)
    ingest = json.loads((runs / "ingest.json").read_text())
    assert ingest["parsed"] > 2000
    assert any(partition(lake, "scores", "behavioural_bots", key).glob("*.parquet"))
    assert (partition(lake, "outbox", "behavioural_bots", key) / "alerts.jsonl").is_file()

    # Six applications ran on this master, and the executors on both workers ran tasks with
    # the code the drivers shipped.
    apps = spark_cluster.master_state(s)["completedapps"]
    names = sorted(app["name"] for app in apps)
    assert names == sorted(f"botwatch-behavioural_bots-{stage}" for stage in SPARK_STAGES)
    logs = _executor_logs(s)
    for worker, files in logs.items():
        text = "".join(f.read_text(errors="replace") for f in files)
        assert "Finished task" in text, f"worker {worker} ran no task"
        assert any((f.parent / "spark_jobs.zip").is_file() for f in files), worker
