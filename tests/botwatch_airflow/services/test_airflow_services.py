"""``make airflow`` / ``make down`` through the same code: real Airflow services on loopback.

The services are the session's live Airflow (tests/botwatch_airflow/conftest.py), which
``make down``'s code stops at the end of the session, checking that no process of it is left;
starting them once more for this file alone would cost a minute of CPU.
"""

from __future__ import annotations

import contextlib
import os

import psutil
import pytest
from botwatch_airflow.services import airflow_services

from tests.support.live_airflow import service_sessions

pytestmark = pytest.mark.e2e


def test_up_prints_the_url_and_the_admin_login(live_airflow):
    up = live_airflow.startup
    assert f"Airflow UI: {live_airflow.base_url}" in up.stdout
    assert f"login:      admin / {live_airflow.password}" in up.stdout
    assert up.stdout.count(" started (pid ") == len(airflow_services.SERVICES)


def test_every_config_is_a_dag_and_every_component_healthy(live_airflow, live_dag_ids):
    health = live_airflow.api().get("/api/v2/monitor/health")
    status = {name: part.get("status") for name, part in health.items()}
    assert status.items() >= {
        ("metadatabase", "healthy"),
        ("scheduler", "healthy"),
        ("dag_processor", "healthy"),
    }
    listed = {d["dag_id"] for d in live_airflow.api().get("/api/v2/dags?limit=100")["dags"]}
    assert listed == live_dag_ids


def test_up_again_is_a_no_op(live_airflow):
    again = live_airflow.services("up")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already running") == len(airflow_services.SERVICES)


def test_every_listening_socket_is_on_loopback(live_airflow):
    sessions = service_sessions(live_airflow.airflow_home)
    assert len(sessions) == len(airflow_services.SERVICES)
    ours = set()
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getsid(proc.pid) in sessions:
                ours.add(proc.pid)
    listening = {
        c.laddr.ip for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.pid in ours
    }
    assert listening == {"127.0.0.1"}
