"""``make spark-cluster`` / ``make down``: a real Spark standalone cluster on loopback.

A master and two workers run from the Spark that the ``pyspark`` package installs in the venv
(``SPARK_HOME`` is the ``pyspark`` folder; it has ``bin/spark-class`` but no ``sbin/start-*.sh``
scripts, so the daemons are started with ``spark-class ...Master`` / ``...Worker`` directly and
stopped through their PID files like the Airflow services). The point is to run the very DAG
of ``make airflow`` against ``spark://127.0.0.1:7077`` instead of ``local[*]``: separate
executor JVMs and Python workers that get their code and Python from the submit, not from the
driver's process.

Everything listens on 127.0.0.1 only: ``--host`` for the RPC ports and ``SPARK_LOCAL_IP`` for
the web UIs (which otherwise bind every interface). A taken port fails the start at once
(``spark.port.maxRetries=0``) rather than letting Spark move silently to the next port, where
the readiness check could meet another user's cluster. Settings (environment, defaults):
``SPARK_MASTER_PORT`` 7077, ``SPARK_MASTER_WEBUI_PORT`` 8090 (8080 is Airflow's),
``SPARK_WORKER_WEBUI_PORT`` 8091 (worker *i* gets 8090 + *i*; 0: any free port),
``SPARK_WORKERS`` 2, ``SPARK_WORKER_CORES`` 1, ``SPARK_WORKER_MEMORY`` 2g,
``BOTWATCH_SPARK_RUN_DIR`` (``$BOTWATCH_HOME/.run/spark``: PID and log files, the workers'
work folders, local dirs).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from botwatch_airflow.services import processes
from botwatch_airflow.services.processes import Service, ServiceError

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
#: How long finished applications' folders stay in the workers' work dirs (each DAG run adds
#: six: executor logs and the shipped code).
APP_DATA_TTL_S = 7 * 24 * 3600


def default_spark_home() -> Path:
    """The ``pyspark`` package folder of this Python: the Spark distribution pip installed."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _default_run_dir(env: Mapping[str, str]) -> Path:
    home = env.get("BOTWATCH_HOME") or os.getcwd()
    return Path(home) / ".run" / "spark"


class ClusterSettings(BaseModel):
    """Where the cluster listens and what each worker offers (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    master_port: int = Field(7077, ge=1, le=65535)
    webui_port: int = Field(8090, ge=1, le=65535)
    worker_webui_port: int = Field(8091, ge=0, le=65535, description="0: any free port")
    workers: int = Field(2, ge=1, le=16)
    worker_cores: int = Field(1, ge=1)
    worker_memory: str = Field("2g", pattern=r"^\d+[mg]$")
    run_dir: Path
    spark_home: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClusterSettings:
        env = os.environ if environ is None else environ
        names = {
            "master_port": "SPARK_MASTER_PORT",
            "webui_port": "SPARK_MASTER_WEBUI_PORT",
            "worker_webui_port": "SPARK_WORKER_WEBUI_PORT",
            "workers": "SPARK_WORKERS",
            "worker_cores": "SPARK_WORKER_CORES",
            "worker_memory": "SPARK_WORKER_MEMORY",
        }
        given: dict[str, Any] = {field: env[name] for field, name in names.items() if env.get(name)}
        run_dir = env.get("BOTWATCH_SPARK_RUN_DIR")
        return cls(
            **given,
            run_dir=Path(run_dir) if run_dir else _default_run_dir(env),
            spark_home=Path(env["SPARK_HOME"]) if env.get("SPARK_HOME") else default_spark_home(),
        )

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.master_port}"

    @property
    def webui_url(self) -> str:
        return f"http://{self.host}:{self.webui_port}"

    def worker_webui(self, index: int) -> int:
        """Web UI port of worker ``index`` (1-based): consecutive from the first, or all 0."""
        return self.worker_webui_port + index - 1 if self.worker_webui_port else 0

    @property
    def spark_class(self) -> Path:
        return self.spark_home / "bin" / "spark-class"

    def worker_dir(self, index: int) -> Path:
        return self.run_dir / "work" / f"worker-{index}"


def master_argv(s: ClusterSettings) -> list[str]:
    return [
        str(s.spark_class), MASTER_CLASS,
        "--host", s.host, "--port", str(s.master_port), "--webui-port", str(s.webui_port),
    ]  # fmt: skip


def worker_argv(s: ClusterSettings, index: int) -> list[str]:
    """Worker ``index`` (1-based): its own web UI port and work folder, any free RPC port."""
    return [
        str(s.spark_class), WORKER_CLASS,
        "--host", s.host,
        "--webui-port", str(s.worker_webui(index)),
        "--cores", str(s.worker_cores), "--memory", s.worker_memory,
        "--work-dir", str(s.worker_dir(index)),
        s.master_url,
    ]  # fmt: skip


def daemon_env(s: ClusterSettings) -> dict[str, str]:
    """Environment of the master and the workers (the executors inherit the workers')."""
    options = [
        "-Dspark.port.maxRetries=0",
        "-Dspark.worker.cleanup.enabled=true",
        f"-Dspark.worker.cleanup.appDataTtl={APP_DATA_TTL_S}",
    ]
    return {
        "SPARK_HOME": str(s.spark_home),
        "SPARK_LOCAL_IP": s.host,
        "SPARK_LOCAL_DIRS": str(s.run_dir / "local"),
        "SPARK_DAEMON_MEMORY": os.environ.get("SPARK_DAEMON_MEMORY", "512m"),
        "SPARK_DAEMON_JAVA_OPTS": " ".join(options),
        # The REST submission server (6066 on every master): only for cluster deploy mode, which
        # standalone does not offer to Python applications; off, so it holds no fixed port.
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        # Executors find botwatch's code as on a real cluster: shipped by the driver
        # (spark_jobs.stage.shipping) or installed in their Python, not via the caller's path.
        "PYTHONPATH": "",
    }


def services(s: ClusterSettings) -> list[tuple[Service, list[str]]]:
    """(service, argv) of the master then each worker: started in this order, stopped reversed."""
    master = [(Service("spark-master", s.run_dir), master_argv(s))]
    workers = [
        (Service(f"spark-worker-{i}", s.run_dir), worker_argv(s, i))
        for i in range(1, s.workers + 1)
    ]
    return master + workers


def master_state(s: ClusterSettings) -> dict[str, Any]:
    """The master's ``/json/`` (workers, applications), or {} when nothing answers there."""
    try:
        with urllib.request.urlopen(f"{s.webui_url}/json/", timeout=3) as response:  # noqa: S310
            return json.load(response)
    except (OSError, ValueError):
        return {}


def alive_workers(state: Mapping[str, Any]) -> int:
    return sum(1 for worker in state.get("workers", []) if worker.get("state") == "ALIVE")


def _ready(s: ClusterSettings) -> bool:
    state = master_state(s)
    return state.get("url") == s.master_url and alive_workers(state) >= s.workers


def _check_installation(s: ClusterSettings) -> None:
    if not os.access(s.spark_class, os.X_OK):
        raise ServiceError(
            f"no executable {s.spark_class}: SPARK_HOME must be a Spark distribution "
            "(default: the pyspark package folder of the venv)"
        )


def _check_port_free(s: ClusterSettings, service: Service, ports: list[int]) -> None:
    """A port someone else holds would make our daemon fail (or, without maxRetries=0, move)."""
    if service.pid() is not None:
        return
    taken = [port for port in ports if port and processes.port_open(s.host, port)]
    if taken:
        raise ServiceError(f"{service.name}: port(s) {taken} on {s.host} already in use")


def up(s: ClusterSettings, timeout_s: float = 240.0) -> None:
    """Start what is not running, wait until the master lists every worker as ALIVE."""
    _check_installation(s)
    started = services(s)
    env = daemon_env(s)
    for index, (service, argv) in enumerate(started):
        ports = [s.master_port, s.webui_port] if index == 0 else [s.worker_webui(index)]
        _check_port_free(s, service, ports)
        if index > 0:
            s.worker_dir(index).mkdir(parents=True, exist_ok=True)
        pid, new = processes.start(service, argv, env=env, cwd=s.run_dir)
        print(f"{service.name:<16} {'started' if new else 'already running'} (pid {pid})")
    waited = processes.wait_until(
        lambda: _ready(s),
        [service for service, _ in started],
        what=f"{s.workers} ALIVE worker(s) at {s.webui_url}",
        timeout_s=timeout_s,
    )
    print(
        f"Spark master: {s.master_url}  ({s.workers} workers ALIVE, {s.worker_cores} core(s) / "
        f"{s.worker_memory} each; ready after {waited:.0f} s)"
    )
    print(f"web UI:       {s.webui_url}")
    print(f"use it:       make airflow SPARK_MASTER={s.master_url}   (or, by hand:")
    print(f"              export AIRFLOW_CONN_SPARK_DEFAULT='{connection_json(s)}')")
    print(f"logs:         {s.run_dir}/*.log, executors in {s.run_dir}/work; stop: make down")


def connection_json(s: ClusterSettings) -> str:
    """The Airflow Spark connection that points the DAGs at this cluster."""
    return json.dumps({"conn_type": "spark", "host": f"spark://{s.host}", "port": s.master_port})


def down(s: ClusterSettings) -> None:
    """Stop the workers, then the master, with every process of theirs (idempotent)."""
    for service, _ in reversed(services(s)):
        stopped = processes.stop(service)
        what = f"stopped {len(stopped)} process(es)" if stopped else "not running"
        print(f"{service.name:<16} {what}")


def status(s: ClusterSettings) -> None:
    for service, _ in services(s):
        print(f"{service.name:<16} {service.pid() or 'not running'}")
    state = master_state(s)
    if not state:
        print(f"master: no answer at {s.webui_url}/json/")
        return
    apps = state.get("activeapps", [])
    print(
        f"master: {state.get('url')} {state.get('status')}, {alive_workers(state)} worker(s) "
        f"ALIVE, {len(apps)} running app(s), {len(state.get('completedapps', []))} completed"
    )


def main(argv: list[str] | None = None) -> int:
    return processes.service_main(
        "botwatch-spark", __doc__.splitlines()[0], ClusterSettings.from_env,
        {"up": up, "down": down, "status": status}, argv,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
