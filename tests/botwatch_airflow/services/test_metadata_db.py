"""Connect arguments of Airflow's metadata database: a long lock wait on SQLite only."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from botwatch_airflow.services import airflow_services, metadata_db

from tests.support.paths import REPO


@pytest.mark.parametrize(
    ("conn", "args"),
    [
        ("sqlite:////home/me/airflow/airflow.db", {"timeout": metadata_db.SQLITE_BUSY_TIMEOUT_S}),
        ("postgresql+psycopg2://airflow@db/airflow", {}),
        ("mysql+mysqldb://airflow@db/airflow", {}),
    ],
)
def test_only_sqlite_gets_the_busy_timeout(conn, args):
    assert metadata_db.connect_args(conn) == args


def test_every_service_and_make_point_airflow_at_the_connect_args():
    assert metadata_db.SETTING.items() <= airflow_services.service_env().items()
    makefile = (REPO / "Makefile").read_text()
    assert (
        f"AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS ?= {metadata_db.__name__}.CONNECT_ARGS"
        in makefile
    )


def test_airflows_engine_waits_a_minute_for_a_sqlite_lock(tmp_path):
    """What Airflow itself builds, in a fresh process with the setting."""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), **metadata_db.SETTING}
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    code = "from airflow import settings; print(settings._get_connect_args('sync'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120)  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == str(
        {"timeout": metadata_db.SQLITE_BUSY_TIMEOUT_S}
    )
