"""The deliver task as the Airflow worker calls it: its summary goes through logging."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from botwatch_airflow.deliver_task import run_delivery

from tests.support.builders import usecase_yaml


def test_the_summary_is_logged_so_the_ui_shows_it_with_the_tasks_lines(tmp_path, caplog):
    """Printed to stderr, the Airflow 3 worker forwards it after the task's end, into the
    collapsed "Post Execute" group of the UI's log view; log records stay in order."""
    config = usecase_yaml(tmp_path)
    start = datetime(2015, 5, 17, tzinfo=UTC)
    with caplog.at_level(logging.INFO, logger="botwatch.deliver"):
        summary = run_delivery(
            str(config), str(tmp_path / "lake"), str(tmp_path),
            data_interval_start=start, data_interval_end=start + timedelta(days=1),
        )  # fmt: skip
    lines = [r.getMessage() for r in caplog.records]
    head = lines.index("botwatch deliver ok  use case test_uc")
    assert lines[head + 1].startswith("  interval  2015-05-17 00:00 → 2015-05-18 00:00 UTC (24 h)")
    assert summary["delivered"] == 0 and summary["failed"] == 0
