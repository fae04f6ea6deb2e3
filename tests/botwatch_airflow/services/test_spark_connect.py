"""``make spark-connect``: the server's settings and command line (no JVM), and one real server
on a free loopback port, used by a client in another process, then stopped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pydantic
import pytest
from botwatch_airflow.services import processes, spark_connect
from botwatch_airflow.services.spark_cluster import default_spark_home
from botwatch_airflow.services.spark_connect import ConnectSettings


def _settings(tmp_path: Path, **env: str) -> ConnectSettings:
    return ConnectSettings.from_env({"BOTWATCH_SPARK_CONNECT_RUN_DIR": str(tmp_path), **env})


def _options(argv: list[str]) -> dict[str, str]:
    """The ``--conf key=value`` pairs of a spark-submit command line."""
    pairs = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--conf"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_defaults_are_the_makefiles_port_on_loopback_and_the_venvs_spark(tmp_path):
    s = ConnectSettings.from_env({"BOTWATCH_HOME": str(tmp_path)})
    assert (s.host, s.port, s.master, s.driver_memory, s.ui_port) == (
        "127.0.0.1",
        15002,
        "local[*]",
        "1g",
        4040,
    )
    assert s.run_dir == tmp_path / ".run" / "spark-connect"
    assert s.spark_home == default_spark_home()
    assert s.url == "sc://127.0.0.1:15002"
    assert s.service.pid_file == s.run_dir / "spark-connect.pid"


def test_environment_overrides_port_master_memory_ui_and_run_dir(tmp_path):
    s = _settings(
        tmp_path / "run",
        SPARK_CONNECT_PORT="17002",
        SPARK_MASTER="spark://127.0.0.1:7077",
        SPARK_CONNECT_DRIVER_MEMORY="512m",
        SPARK_CONNECT_UI_PORT="0",
        SPARK_HOME=str(tmp_path / "spark"),
    )
    assert (s.port, s.master, s.driver_memory, s.ui_port) == (
        17002,
        "spark://127.0.0.1:7077",
        "512m",
        0,
    )
    assert s.run_dir == tmp_path / "run"
    assert s.spark_home == tmp_path / "spark"
    assert s.url == "sc://127.0.0.1:17002"


def test_empty_variables_keep_the_defaults(tmp_path):
    s = _settings(tmp_path, SPARK_CONNECT_PORT="", SPARK_MASTER="", SPARK_CONNECT_UI_PORT="")
    assert (s.port, s.master, s.ui_port) == (15002, "local[*]", 4040)


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("SPARK_CONNECT_PORT", "0", "port"),
        ("SPARK_CONNECT_PORT", "70000", "port"),
        ("SPARK_CONNECT_DRIVER_MEMORY", "lots", "driver_memory"),
        ("SPARK_CONNECT_UI_PORT", "-1", "ui_port"),
    ],
)
def test_bad_settings_are_errors_naming_the_field(tmp_path, name, value, field):
    with pytest.raises(pydantic.ValidationError, match=field):
        _settings(tmp_path, **{name: value})


def test_the_server_command_line_runs_spark_connect_on_loopback_and_the_port(tmp_path):
    s = _settings(tmp_path, SPARK_CONNECT_PORT="17002", SPARK_MASTER="local[1]")
    argv = spark_connect.server_argv(s)
    assert argv[0] == str(s.spark_home / "bin" / "spark-submit")
    assert (
        argv[argv.index("--class") + 1] == "org.apache.spark.sql.connect.service.SparkConnectServer"
    )
    assert argv[argv.index("--master") + 1] == "local[1]"
    assert argv[argv.index("--driver-memory") + 1] == "1g"
    assert argv[-1] == "spark-internal"
    options = _options(argv)
    assert options["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert options["spark.connect.grpc.binding.port"] == "17002"
    assert options["spark.sql.session.timeZone"] == "UTC"
    assert options["spark.local.dir"] == str(tmp_path / "local")
    assert (options["spark.ui.enabled"], options["spark.ui.port"]) == ("true", "4040")


def test_ui_port_zero_turns_the_ui_off_and_the_environment_keeps_loopback(tmp_path):
    s = _settings(tmp_path, SPARK_CONNECT_UI_PORT="0")
    assert _options(spark_connect.server_argv(s))["spark.ui.enabled"] == "false"
    env = spark_connect.server_env(s)
    assert env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert env["SPARK_HOME"] == str(s.spark_home)


def _server_pids(s: ConnectSettings) -> set[int]:
    pid = s.service.pid()
    assert pid is not None
    root = psutil.Process(pid)
    return {pid, *(child.pid for child in root.children(recursive=True))}


_CLIENT = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
try:
    print(spark.range(3).count())
finally:
    spark.stop()
"""


@pytest.mark.spark
def test_a_real_server_serves_a_client_on_loopback_only_and_stops(tmp_path, capsys):
    s = ConnectSettings(
        port=processes.free_port(),
        master="local[1]",
        ui_port=0,
        run_dir=tmp_path,
        spark_home=default_spark_home(),
    )
    with spark_connect.running(s) as url:
        assert url == s.url
        pid = s.service.pid()
        assert pid is not None and processes.port_open(s.host, s.port)

        listening = {
            (c.laddr.ip.removeprefix("::ffff:"), c.laddr.port)
            for c in psutil.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.pid in _server_pids(s)
        }
        assert ("127.0.0.1", s.port) in listening
        assert {ip for ip, _ in listening} == {"127.0.0.1"}, listening

        # The client in a process of its own: this one keeps no Connect session behind.
        env = {k: v for k, v in os.environ.items() if k not in {"MASTER", "SPARK_REMOTE"}}
        client = subprocess.run(
            [sys.executable, "-c", _CLIENT, url],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert client.returncode == 0, client.stderr[-3000:]
        assert client.stdout.strip().splitlines()[-1] == "3"

        capsys.readouterr()
        assert spark_connect.up(s) is False
        assert "already running" in capsys.readouterr().out
        assert s.service.pid() == pid

    assert not processes.port_open(s.host, s.port)
    assert not s.service.pid_file.exists()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
