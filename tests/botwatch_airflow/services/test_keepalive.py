"""The keeper that restarts a dead service: real child processes, no Airflow."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from botwatch_airflow.services import keepalive, processes
from botwatch_airflow.services.keepalive import Keepalive


def _dies_twice_then_runs(counter: Path) -> list[str]:
    """A child that exits 3 on its first two starts, then sleeps until it is killed."""
    code = (
        "import pathlib, sys, time\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "sys.exit(3) if n <= 2 else time.sleep(600)\n"
    )
    return [sys.executable, "-c", code]


def test_a_child_that_dies_is_started_again_with_a_growing_pause():
    pauses, lines = [], []
    keeper = Keepalive([sys.executable, "-c", "raise SystemExit(3)"], sleep=pauses.append,
                       log=lines.append)  # fmt: skip
    assert keeper.run(max_restarts=3) == 3
    assert keeper.restarts == 3
    assert pauses == [1.0, 2.0, 4.0]
    assert len(lines) == 3 and all("exited with code 3; restarting" in line for line in lines)


def test_the_pause_never_exceeds_its_cap():
    pauses = []
    keeper = Keepalive([sys.executable, "-c", "pass"], sleep=pauses.append, log=lambda _: None)
    keeper.run(max_restarts=8)
    assert max(pauses) == keepalive.MAX_DELAY_S and pauses[:3] == [1.0, 2.0, 4.0]


def test_terminate_stops_the_child_and_does_not_restart_it():
    keeper = Keepalive([sys.executable, "-c", "import time; time.sleep(600)"], log=lambda _: None)

    def stop_soon(_delay: float) -> None:  # never called: the child does not die by itself
        raise AssertionError("restarted after terminate")

    keeper.sleep = stop_soon
    threading.Timer(1.0, keeper.terminate).start()
    began = time.monotonic()
    code = keeper.run()
    assert code == -signal.SIGTERM
    assert keeper.restarts == 0 and time.monotonic() - began < 30


def test_as_a_service_it_outlives_two_crashes_and_stop_ends_the_whole_tree(tmp_path):
    counter = tmp_path / "starts"
    service = processes.Service("flaky", tmp_path / "run")
    argv = [sys.executable, "-m", "botwatch_airflow.services.keepalive", "--",
            *_dies_twice_then_runs(counter)]  # fmt: skip
    pid, started = processes.start(service, argv)
    assert started
    processes.wait_until(lambda: counter.exists() and counter.read_text() == "3", [service],
                         what="the third start", timeout_s=60, every_s=0.2)  # fmt: skip
    log = service.log_file.read_text()
    assert log.count("exited with code 3; restarting") == 2
    stopped = processes.stop(service)
    assert pid in stopped and len(stopped) == 2  # the keeper and its child
    assert service.pid() is None
    assert subprocess.run(["pgrep", "-f", str(counter)], capture_output=True).returncode == 1


def test_without_a_command_it_says_how_to_call_it(capsys):
    assert keepalive.main(["--"]) == 2
    assert "usage:" in capsys.readouterr().err
