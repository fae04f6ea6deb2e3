"""``make airflow`` / ``make down``: Airflow 3's services on the embedded defaults, on loopback.

Started one by one instead of ``airflow standalone``, because standalone cannot be stopped
cleanly (it orphans its scheduler and workers), binds the API to every interface and leaves
the execution API URL at its default when the port changes, which fails every task within
seconds (``httpx.ConnectError``). What this sets, for every service it starts:

- SQLite metadata in ``$AIRFLOW_HOME`` and the LocalExecutor (Airflow's defaults), with
  ``AIRFLOW__CORE__PARALLELISM`` small (each task is a spark-submit; the default 32 workers
  only cost memory on a laptop);
- the API server (UI) on ``127.0.0.1:$AIRFLOW_PORT`` (default 8080), and
  ``AIRFLOW__API__BASE_URL`` to match, so task workers reach the execution API;
- the scheduler without its log server (``--skip-serve-logs``: the API server reads the
  task logs from ``$AIRFLOW_HOME/logs`` on this machine, so nothing listens on 8793), the
  DAG processor, and no triggerer (botwatch has no deferrable task);
- each service under ``keepalive``, which restarts it when it dies, and SQLite connections
  that wait a minute for a lock (``metadata_db``): the scheduler died here on a run another
  process rolled back, and every queued run then waited forever;
- one admin user, ``admin``, whose password is generated once into
  ``$AIRFLOW_HOME/botwatch_passwords.json`` (override: ``AIRFLOW_ADMIN_PASSWORD``).

PID and log files live in ``$AIRFLOW_HOME/run/``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path

from botwatch_airflow.services import metadata_db, processes
from botwatch_airflow.services.processes import Service, ServiceError

#: Service name -> ``airflow`` sub-command; started in this order, stopped in reverse.
SERVICES: dict[str, list[str]] = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
}
ADMIN = "admin"
#: Each service runs under a keeper that restarts it when it dies (keepalive.py says why).
KEEPALIVE = [sys.executable, "-m", "botwatch_airflow.services.keepalive", "--"]


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")).resolve()


def run_dir() -> Path:
    return airflow_home() / "run"


def port() -> int:
    return int(os.environ.get("AIRFLOW_PORT", "8080"))


def base_url() -> str:
    return f"http://127.0.0.1:{port()}"


def password_file() -> Path:
    return airflow_home() / "botwatch_passwords.json"


def admin_password() -> str:
    """The admin's password: ``$AIRFLOW_ADMIN_PASSWORD``, else generated once and kept."""
    path = password_file()
    if os.environ.get("AIRFLOW_ADMIN_PASSWORD"):
        password = os.environ["AIRFLOW_ADMIN_PASSWORD"]
    elif path.exists():
        return str(json.loads(path.read_text())[ADMIN])
    else:
        password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({ADMIN: password}))
    path.chmod(0o600)
    return password


def service_env() -> dict[str, str]:
    """The settings every service shares (see the module docstring)."""
    return {
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port()),
        "AIRFLOW__API__BASE_URL": base_url(),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "4"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file()),
        **metadata_db.SETTING,
    }


def _services() -> list[Service]:
    return [Service(name, run_dir()) for name in SERVICES]


def health() -> dict[str, str]:
    """Status of each Airflow component from ``/api/v2/monitor/health`` ({} when down)."""
    try:
        url = f"{base_url()}/api/v2/monitor/health"
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback
            body = json.load(response)
    except (OSError, ValueError):
        return {}
    return {name: str(part.get("status")) for name, part in body.items() if isinstance(part, dict)}


def _ready() -> bool:
    status = health()
    return status.get("scheduler") == "healthy" and status.get("dag_processor") == "healthy"


def up(timeout_s: float = 300.0) -> None:
    """Migrate the database, start the services that are not running, wait for the UI."""
    env = {**os.environ, **service_env()}
    password = admin_password()
    migrate = subprocess.run(  # noqa: S603
        ["airflow", "db", "migrate"], env=env, capture_output=True, text=True, check=False
    )
    if migrate.returncode != 0:
        raise ServiceError(f"airflow db migrate failed:\n{migrate.stderr[-2000:]}")
    print(f"starting the Airflow services for {base_url()} ...", flush=True)
    commands = [
        (service, [*KEEPALIVE, "airflow", *args])
        for service, args in zip(_services(), SERVICES.values(), strict=True)
    ]
    try:
        states, waited = processes.start_all(
            commands, _ready, what=f"Airflow at {base_url()}", env=service_env(),
            timeout_s=timeout_s,
        )  # fmt: skip
    except ServiceError as exc:
        raise ServiceError(f"{exc}\n(the services this call started were stopped again)") from exc
    for service, pid, started in states:
        print(f"{service.name:<14} {'started' if started else 'already running'} (pid {pid})")
    print(f"Airflow UI: {base_url()}  (ready after {waited:.0f} s)")
    print(f"login:      {ADMIN} / {password}   (kept in {password_file()})")
    print(f"logs:       {run_dir()}/*.log; stop everything with: make down")


class RestClient:
    """Airflow's REST API as the ``make airflow`` admin (the backfill wrapper, the tests)."""

    def __init__(self, base: str | None = None, password: str | None = None) -> None:
        """Log in; ``base`` and ``password`` default to this environment's services (a test
        passes those of the services it started, without changing its own environment)."""
        self.base = base or base_url()
        login = urllib.request.Request(
            f"{self.base}/auth/token",
            method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps({"username": ADMIN, "password": password or admin_password()}).encode(),
        )
        with urllib.request.urlopen(login, timeout=10) as response:  # noqa: S310 - loopback
            self.token = json.load(response)["access_token"]

    def get(self, path: str) -> dict:
        return self.call("GET", path)

    def patch(self, path: str, body: dict) -> dict:
        return self.call("PATCH", path, body)

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base}{path}", method=method, headers=headers, data=data
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.load(response)


def down() -> None:
    """Stop every service started by ``up`` and all their processes (idempotent)."""
    for service in reversed(_services()):
        stopped = processes.stop(service)
        what = f"stopped {len(stopped)} process(es)" if stopped else "not running"
        print(f"{service.name:<14} {what}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="botwatch-airflow", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            up()
        elif args.action == "down":
            down()
        else:
            for service in _services():
                print(f"{service.name:<14} {service.pid() or 'not running'}")
            print(f"health: {health() or 'no answer at ' + base_url()}")
    except ServiceError as exc:
        print(f"botwatch-airflow: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
