"""The Spark Connect server of a test run: on a free loopback port, its files in a temp folder.

Two threads (``local[2]``) like the classic test session, no UI; stopped when the run ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from botwatch_airflow.services import processes, spark_connect
from botwatch_airflow.services.spark_cluster import default_spark_home


@contextlib.contextmanager
def test_connect_server(run_dir: Path) -> Iterator[str]:
    settings = spark_connect.ConnectSettings(
        port=processes.free_port(),
        master="local[2]",
        ui_port=0,
        run_dir=run_dir,
        spark_home=default_spark_home(),
    )
    with spark_connect.running(settings) as url:
        yield url
