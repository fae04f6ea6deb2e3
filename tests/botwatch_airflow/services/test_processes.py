"""Background services: started once, stopped with every process they spawned."""

from __future__ import annotations

import os
import sys
import time

import psutil
import pytest
from botwatch_airflow.services import processes
from botwatch_airflow.services.processes import Service, ServiceError

# A parent that forks a child ignoring SIGTERM and a grandchild in a session of its own: the
# shapes of Airflow's scheduler and its LocalExecutor workers.
_TREE = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"])
print("ready", flush=True)
time.sleep(300)
"""


def _wait_children(pid: int, count: int) -> list[int]:
    for _ in range(100):
        children = psutil.Process(pid).children(recursive=True)
        if len(children) >= count:
            return [c.pid for c in children]
        time.sleep(0.1)
    raise AssertionError(f"{pid} did not start {count} children")


def test_stop_ends_the_whole_tree_even_when_it_ignores_sigterm(tmp_path):
    service = Service("tree", tmp_path)
    pid, started = processes.start(service, [sys.executable, "-c", _TREE])
    assert started
    children = _wait_children(pid, 2)
    stopped = processes.stop(service, grace_s=1.0)
    assert set(stopped) == {pid, *children}
    assert not [
        p
        for p in (pid, *children)
        if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    ]
    assert service.pid() is None and not service.pid_file.exists()


def test_start_and_stop_are_idempotent(tmp_path):
    service = Service("sleeper", tmp_path)
    first, started = processes.start(service, [sys.executable, "-c", "import time; time.sleep(60)"])
    again, started_again = processes.start(service, [sys.executable, "-c", "pass"])
    assert started and not started_again and again == first
    assert processes.stop(service) == [first]
    assert processes.stop(service) == []


def test_a_stale_pid_file_is_not_a_running_service(tmp_path):
    service = Service("gone", tmp_path)
    service.pid_file.write_text("999999 1.0\n")
    assert service.pid() is None
    assert not service.pid_file.exists()


def test_a_step_of_the_wall_clock_does_not_make_a_running_service_look_stale(tmp_path, monkeypatch):
    """psutil's create_time is boot time + start ticks, and boot time follows the wall clock:
    seen here 15 s off after a clock step, and ``make down`` then orphaned every service."""
    service = Service("sleeper", tmp_path)
    pid, _ = processes.start(service, _SLEEP)
    try:
        real = psutil.Process.create_time
        monkeypatch.setattr(psutil.Process, "create_time", lambda self: real(self) + 15.0)
        assert service.pid() == pid and service.pid_file.exists()
    finally:
        monkeypatch.undo()
        assert processes.stop(service) == [pid]


def test_a_reused_pid_is_not_the_service(tmp_path):
    service = Service("reused", tmp_path)
    pid, _ = processes.start(service, _SLEEP)
    try:
        marker = service.pid_file.read_text().split()[1]
        ticks = int(marker.removeprefix("ticks:"))
        service.pid_file.write_text(f"{pid} ticks:{ticks - 100}\n")  # another process, same PID
        assert service.pid() is None
    finally:
        os.kill(pid, 9)


def test_a_pid_file_of_an_older_botwatch_still_reads(tmp_path):
    service = Service("old", tmp_path)
    pid, _ = processes.start(service, _SLEEP)
    try:
        service.pid_file.write_text(f"{pid} {psutil.Process(pid).create_time()}\n")
        assert service.pid() == pid
    finally:
        assert processes.stop(service) == [pid]


def test_wait_until_names_the_log_of_a_service_that_died(tmp_path):
    service = Service("crash", tmp_path)
    processes.start(
        service, [sys.executable, "-c", "print('boom: port taken'); raise SystemExit(3)"]
    )
    with pytest.raises(ServiceError, match=r"(?s)crash exited.*boom: port taken"):
        processes.wait_until(lambda: False, [service], what="the UI", timeout_s=20, every_s=0.2)


_SLEEP = [sys.executable, "-c", "import time; time.sleep(120)"]
_CRASH = [sys.executable, "-c", "import time; time.sleep(0.5); raise SystemExit(3)"]


def _running(pid: int) -> bool:
    return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


def test_start_all_stops_what_it_started_when_a_later_service_dies(tmp_path):
    first, crash = Service("api", tmp_path), Service("scheduler", tmp_path)
    with pytest.raises(ServiceError, match="scheduler exited"):
        processes.start_all(
            [(first, _SLEEP), (crash, _CRASH)], lambda: False, what="the UI", timeout_s=30
        )
    assert first.pid() is None and not first.pid_file.exists()


def test_start_all_leaves_services_that_were_already_running(tmp_path):
    earlier, crash = Service("api", tmp_path), Service("scheduler", tmp_path)
    pid, _ = processes.start(earlier, _SLEEP)
    try:
        with pytest.raises(ServiceError, match="scheduler exited"):
            processes.start_all(
                [(earlier, _SLEEP), (crash, _CRASH)], lambda: False, what="the UI", timeout_s=30
            )
        assert earlier.pid() == pid and _running(pid)
    finally:
        processes.stop(earlier)


def test_start_all_stops_what_it_started_on_a_timeout(tmp_path):
    slow = Service("api", tmp_path)
    with pytest.raises(ServiceError, match="not ready after"):
        processes.start_all([(slow, _SLEEP)], lambda: False, what="the UI", timeout_s=1)
    assert slow.pid() is None


def test_start_all_returns_each_pid_once_ready(tmp_path):
    one, two = Service("api", tmp_path), Service("scheduler", tmp_path)
    try:
        states, waited = processes.start_all(
            [(one, _SLEEP), (two, _SLEEP)], lambda: True, what="the UI"
        )
        assert [(s.name, started) for s, _, started in states] == [
            ("api", True),
            ("scheduler", True),
        ]
        assert [pid for _, pid, _ in states] == [one.pid(), two.pid()] and waited < 1
    finally:
        processes.stop(one)
        processes.stop(two)


def test_free_port_is_free_and_port_open_sees_a_listener():
    import socket

    port = processes.free_port()
    assert not processes.port_open("127.0.0.1", port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert processes.port_open("127.0.0.1", port)
