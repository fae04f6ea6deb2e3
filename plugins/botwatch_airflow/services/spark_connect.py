"""``make spark-connect`` / ``make down``: the long-lived Spark Connect server the stages use.

A classic stage starts a driver JVM of its own: 10-20 s of JVM start, class loading and JIT
warm-up before its first row, six times per DAG run. A Connect server pays that once; each
stage is then a thin client (``spark_jobs.session``, ``$BOTWATCH_SPARK_REMOTE``) that finds a
warm, JIT-compiled engine. The server is the ``SparkConnectServer`` the pyspark install ships,
started with the venv's ``spark-submit`` against ``$SPARK_MASTER`` (``local[*]`` by default; a
cluster's master URL makes the server the cluster's driver, so the jobs run on the cluster).

It listens on 127.0.0.1 only (the gRPC port binds every interface unless told otherwise; the
Spark UI follows ``SPARK_LOCAL_IP``). Settings (environment, defaults): ``SPARK_CONNECT_PORT``
15002, ``SPARK_MASTER`` ``local[*]``, ``SPARK_CONNECT_DRIVER_MEMORY`` 1g (the server's heap: it
holds every session's work), ``SPARK_CONNECT_UI_PORT`` 4040 (0: no UI; Spark moves to the next free port when it is taken),
``BOTWATCH_SPARK_CONNECT_RUN_DIR`` (``$BOTWATCH_HOME/.run/spark-connect``: PID and log files,
local dirs). Sessions end with their stage (``stage.runner.release``); the server drops idle
ones after ``spark.connect.session.manager.defaultSessionTimeout`` as well.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from botwatch_airflow.services import processes
from botwatch_airflow.services.processes import Service, ServiceError
from botwatch_airflow.services.spark_cluster import default_spark_home
from spark_jobs.session import REMOTE_ENV
from spark_jobs.stage.submit import log4j2_config

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
SERVICE_NAME = "spark-connect"


class ConnectSettings(BaseModel):
    """Where the server listens and what it runs on (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(15002, ge=1, le=65535)
    master: str = "local[*]"
    driver_memory: str = Field("1g", pattern=r"^\d+[mg]$")
    ui_port: int = Field(4040, ge=0, le=65535, description="0: no Spark UI")
    run_dir: Path
    spark_home: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConnectSettings:
        env = os.environ if environ is None else environ
        names = {
            "port": "SPARK_CONNECT_PORT",
            "master": "SPARK_MASTER",
            "driver_memory": "SPARK_CONNECT_DRIVER_MEMORY",
            "ui_port": "SPARK_CONNECT_UI_PORT",
        }
        given = {field: env[name] for field, name in names.items() if env.get(name)}
        home = Path(env.get("BOTWATCH_HOME") or os.getcwd())
        run_dir = env.get("BOTWATCH_SPARK_CONNECT_RUN_DIR")
        return cls(
            **given,
            run_dir=Path(run_dir) if run_dir else home / ".run" / "spark-connect",
            spark_home=Path(env["SPARK_HOME"]) if env.get("SPARK_HOME") else default_spark_home(),
        )

    @property
    def url(self) -> str:
        """What clients put in ``$BOTWATCH_SPARK_REMOTE``."""
        return f"sc://{self.host}:{self.port}"

    @property
    def service(self) -> Service:
        return Service(SERVICE_NAME, self.run_dir)


def server_argv(s: ConnectSettings) -> list[str]:
    """The server's spark-submit: quiet logs, UTC, loopback only, no silent port hopping."""
    conf = {
        "spark.connect.grpc.binding.address": s.host,
        "spark.connect.grpc.binding.port": str(s.port),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "true" if s.ui_port else "false",
        "spark.ui.port": str(s.ui_port or 4040),
        "spark.ui.showConsoleProgress": "false",
        "spark.local.dir": str(s.run_dir / "local"),
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={log4j2_config().as_uri()}",
    }
    argv = [
        str(s.spark_home / "bin" / "spark-submit"), "--class", SERVER_CLASS,
        "--master", s.master, "--name", "botwatch-spark-connect",
        "--driver-memory", s.driver_memory,
    ]  # fmt: skip
    for key, value in conf.items():
        argv += ["--conf", f"{key}={value}"]
    return [*argv, "spark-internal"]


def server_env(s: ConnectSettings) -> dict[str, str]:
    """The server's environment: the venv's Python for its Python workers, loopback UI."""
    env = {
        "SPARK_HOME": str(s.spark_home),
        "SPARK_LOCAL_IP": s.host,
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
        "GX_ANALYTICS_ENABLED": "false",
    }
    return {k: v for k, v in env.items() if v}


def up(s: ConnectSettings, timeout_s: float = 180.0) -> bool:
    """Start the server unless it runs; wait until its port answers.

    :returns: True when this call started it (the caller may stop it again).
    """
    service = s.service
    running = service.pid() is not None
    if not running and processes.port_open(s.host, s.port):
        raise ServiceError(f"{SERVICE_NAME}: port {s.port} on {s.host} already in use")
    (s.run_dir / "local").mkdir(parents=True, exist_ok=True)
    states, waited = processes.start_all(
        [(service, server_argv(s))],
        lambda: processes.port_open(s.host, s.port),
        what=f"Spark Connect at {s.url}",
        env=server_env(s),
        timeout_s=timeout_s,
    )
    _, pid, started = states[0]
    state = "started" if started else "already running"
    print(f"{SERVICE_NAME:<16} {state} (pid {pid}) on {s.url}, master {s.master}", flush=True)
    if started:
        print(f"ready after {waited:.0f} s; clients: export {REMOTE_ENV}={s.url}", flush=True)
    return started


def down(s: ConnectSettings) -> None:
    stopped = processes.stop(s.service)
    what = f"stopped {len(stopped)} process(es)" if stopped else "not running"
    print(f"{SERVICE_NAME:<16} {what}")


def status(s: ConnectSettings) -> None:
    pid = s.service.pid()
    answering = processes.port_open(s.host, s.port)
    print(
        f"{SERVICE_NAME:<16} {pid or 'not running'}; {s.url} {'answers' if answering else 'closed'}"
    )


@contextlib.contextmanager
def running(s: ConnectSettings) -> Iterator[str]:
    """The server for the time of a ``with`` block (``make demo``, tests): started when it is
    not running, stopped after only if this block started it. Yields its URL."""
    started = up(s)
    try:
        yield s.url
    finally:
        if started:
            down(s)


def serving(remote: str | None) -> contextlib.AbstractContextManager[str | None]:
    """What a by-hand run (``make demo``) needs for ``remote`` (``$BOTWATCH_SPARK_REMOTE``):
    our own server running for the block when the URL is this machine's default one, nothing
    when it is unset (classic) or names a server someone else runs."""
    settings = ConnectSettings.from_env()
    if remote and remote.rstrip("/") == settings.url:
        return running(settings)
    return contextlib.nullcontext(remote)


def main(argv: list[str] | None = None) -> int:
    return processes.service_main(
        "botwatch-spark-connect", __doc__.splitlines()[0], ConnectSettings.from_env,
        {"up": up, "down": down, "status": status}, argv,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
