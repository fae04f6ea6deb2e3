"""Live Airflow for the integration tests: ``make airflow``'s own code on a free port, in a
throwaway project folder, stopped again with ``make down``'s code, leaving no process behind.

The project is a copy of ``dags/``, ``usecase_configs/`` and ``expectations/`` (the DAG files
find their project from their own location, so a broken config must live in a copy, never in
the checkout), plus two configs of the test's own:

- ``live_bots``: a small, quick use case on the bundled sample of real logs, in the
  ``Europe/Paris`` timezone so the backfill wrapper's local days are not UTC days;
- ``broken_live.yaml``: a typo in a key, which must show as an import error naming the file
  and the key while every other DAG still loads.

Everything runs with its own ``AIRFLOW_HOME`` and environment; this process's environment is
left as it is (the REST client is given the URL and password instead).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml
from botwatch_airflow.services import airflow_services, processes
from botwatch_airflow.services.airflow_services import ADMIN, RestClient

from tests.support.airflow_dags import checkout_env
from tests.support.paths import REPO, SAMPLE_LOG

LIVE_USECASE = "live_bots"
LIVE_TIMEZONE = "Europe/Paris"
#: The local (Europe/Paris) days the tests backfill: three daily intervals of the sample log.
BACKFILL_DAYS = ("2015-05-18", "2015-05-20")
BROKEN_FILE = "broken_live.yaml"
BROKEN_KEY = "treshold"
#: The seven tasks of every botwatch DAG, in order (dag_factory: six Spark stages + deliver).
TASKS = ("ingest", "validate", "feature", "train", "score", "alert", "deliver")


def live_usecase() -> dict:
    """Few features, two clusters and a one-day training window: each stage is mostly its
    JVM start. ``max_active_runs: 2`` keeps both cores busy during the backfill."""
    return {
        "id": LIVE_USECASE,
        "description": "Live-scheduler test: the bundled real sample, Paris days.",
        "schedule": "0 0 * * *",
        "timezone": LIVE_TIMEZONE,
        "start_date": "2015-05-17",
        "catchup": False,
        "tags": ["live-test"],
        "source": {"path": str(SAMPLE_LOG), "format": "combined", "out_of_window": "drop"},
        "features": [
            "requests",
            "requests_per_minute",
            "distinct_path_ratio",
            "head_share",
            "status_4xx_share",
            "robots_txt",
            "no_referrer_share",
        ],  # fmt: skip
        "model": {"members": ["kmeans", "robust_z"], "k": 2, "training_window_days": 1},
        "airflow": {"max_active_runs": 2, "retries": 0},
        "spark": {
            "spark.sql.shuffle.partitions": "2",
            "spark.sql.adaptive.enabled": "false",
            "spark.driver.memory": "1g",
            "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
        },
    }


def make_project(root: Path) -> Path:
    """A deployable project folder: the checkout's DAG files and configs plus the test's own."""
    project = root / "project"
    for folder in ("dags", "usecase_configs", "expectations"):
        shutil.copytree(REPO / folder, project / folder)
    configs = project / "usecase_configs"
    (configs / f"{LIVE_USECASE}.yaml").write_text(yaml.safe_dump(live_usecase(), sort_keys=False))
    broken = {"id": "broken_live", "description": "a typo in a key", "start_date": "2015-05-17",
              "source": {"path": str(SAMPLE_LOG)}, "features": ["requests", "head_share"], BROKEN_KEY: 90}  # fmt: skip
    (configs / BROKEN_FILE).write_text(yaml.safe_dump(broken, sort_keys=False))
    return project


def service_env(project: Path, airflow_home: Path, port: int) -> dict[str, str]:
    """What ``make airflow`` exports, pointed at the throwaway project and Airflow home."""
    return checkout_env(
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW_PORT=str(port),
        AIRFLOW__CORE__DAGS_FOLDER=str(project / "dags"),
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
        # The DAG files do not change during the test: parse them once, not every 30 s.
        AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="600",
        AIRFLOW_CONN_SPARK_DEFAULT='{"conn_type":"spark","host":"local[*]"}',
        BOTWATCH_HOME=str(project),
    )


@dataclass
class LiveAirflow:
    """Running services and where everything of them lives."""

    project: Path
    airflow_home: Path
    port: int
    env: dict[str, str]
    #: What ``up`` printed.
    startup: subprocess.CompletedProcess | None = None
    #: Wall seconds of each step (up, backfill, rerun, down), for the report.
    timings: dict[str, object] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def lake(self) -> Path:
        return self.project / "lake"

    @property
    def password(self) -> str:
        return str(json.loads((self.airflow_home / "botwatch_passwords.json").read_text())[ADMIN])

    def api(self) -> RestClient:
        return RestClient(self.base_url, self.password)

    def run(self, module: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        """``python -m module args`` in the services' environment (what ``make`` runs)."""
        return subprocess.run(  # noqa: S603
            [sys.executable, "-m", module, *args],
            env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def services(self, *args: str, timeout: float = 400) -> subprocess.CompletedProcess:
        return self.run("botwatch_airflow.services.airflow_services", *args, timeout=timeout)

    def backfill(self, *args: str) -> subprocess.CompletedProcess:
        began = time.monotonic()
        result = self.run("botwatch_airflow.services.backfill", *args, timeout=1800)
        self.timings.setdefault("backfills", []).append(round(time.monotonic() - began, 1))
        return result

    def wait_for_dags(self, expected: set[str], timeout_s: float = 240) -> set[str]:
        """The DAG ids the API lists once every expected one is there."""
        api, seen = self.api(), set()

        def _listed() -> bool:
            seen.clear()
            seen.update(d["dag_id"] for d in api.get("/api/v2/dags?limit=100")["dags"])
            return expected <= seen

        processes.wait_until(_listed, [], what="the DAG list", timeout_s=timeout_s, every_s=3)
        return seen


def service_sessions(airflow_home: Path) -> set[int]:
    """The session ids of the running services: each runs in a session of its own, which its
    workers, task runners and spark-submits inherit (``processes.start``)."""
    sessions = set()
    for pid_file in (airflow_home / "run").glob("*.pid"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            sessions.add(os.getsid(int(pid_file.read_text().split()[0])))
    return sessions


def _ours(proc: psutil.Process, airflow_home: Path, sessions: set[int]) -> bool:
    """Started by these services: in one of their sessions, or with their ``AIRFLOW_HOME``
    (a process may start a session of its own; one that sets its title loses its environment,
    hence both)."""
    if proc.status() == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
        return False
    with contextlib.suppress(OSError):
        if os.getsid(proc.pid) in sessions:
            return True
    return proc.environ().get("AIRFLOW_HOME") == str(airflow_home)


def processes_of(airflow_home: Path, sessions: set[int]) -> list[str]:
    """``pid command`` of every live process of the services (see ``_ours``)."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if _ours(proc, airflow_home, sessions):
                found.append(f"{proc.pid} {' '.join(proc.cmdline())[:200]}")
    return found


def cpu_seconds(airflow_home: Path, sessions: set[int]) -> float:
    """CPU time used so far by the services and every process they ran (tasks, spark-submits:
    an exited process's time counts in its live ancestor's ``children_*`` once reaped)."""
    total = 0.0
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if _ours(proc, airflow_home, sessions):
                times = proc.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
    return round(total, 1)


@contextlib.contextmanager
def running_airflow(root: Path) -> Iterator[LiveAirflow]:
    """``up`` through the real module; ``down`` always, then no process of it may be left."""
    project, airflow_home = make_project(root), root / "airflow"
    port = processes.free_port()
    live = LiveAirflow(project, airflow_home, port, service_env(project, airflow_home, port))
    began = time.monotonic()
    live.startup = up = live.services("up")
    live.timings["up"] = round(time.monotonic() - began, 1)
    try:
        if up.returncode != 0:
            raise AssertionError(f"make airflow failed:\n{up.stdout}\n{up.stderr}")
        yield live
    finally:
        sessions = service_sessions(airflow_home)
        live.timings["cpu_s"] = cpu_seconds(airflow_home, sessions)
        began = time.monotonic()
        down = live.services("down")
        live.timings["down"] = round(time.monotonic() - began, 1)
        left = processes_of(airflow_home, sessions)
        print(f"\nlive Airflow timings (s): {live.timings}", file=sys.stderr)
        assert down.returncode == 0, down.stderr
        assert left == [], f"processes left after make down: {left}"
        again = live.services("down")
        assert again.stdout.count("not running") == len(airflow_services.SERVICES), again.stdout
