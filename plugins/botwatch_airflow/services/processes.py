"""Long-running local services (Airflow's scheduler and API server, a Spark master and its
workers) started in the background and stopped again, every process of them.

Why not ``airflow standalone`` / ``nohup``: stopping standalone orphans its scheduler,
dag-processor, API server and the LocalExecutor's workers, and the scheduler may ignore
SIGTERM for over a minute. Here each service runs in a session (process group) of its own,
with a PID file and a log file under a run folder, and ``stop`` ends the whole tree: it
snapshots every descendant first (workers may start sessions of their own), sends SIGTERM,
waits, then SIGKILLs what is left. Starting a service that is already running is a no-op, so
``make airflow`` / ``make down`` can be repeated.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

#: How long ``stop`` waits after SIGTERM before it SIGKILLs.
TERM_GRACE_S = 8.0


class ServiceError(RuntimeError):
    """A service did not start, or died while we waited for it (the message names its log)."""


@dataclass(frozen=True)
class Service:
    """One named background process and its files under ``run_dir``."""

    name: str
    run_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The PID of the running service, or None (a stale PID file is removed)."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        if _alive(pid, self._start_marker()):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def _start_marker(self) -> str | None:
        parts = self.pid_file.read_text().split() if self.pid_file.exists() else []
        return parts[1] if len(parts) > 1 else None

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_file.exists():
            return "(no log)"
        return "".join(self.log_file.read_text(errors="replace").splitlines(True)[-lines:])


def start_marker(pid: int) -> str:
    """When ``pid`` started, in a form a later process can compare: on Linux its start in
    clock ticks since boot (``/proc/PID/stat``), which a step of the wall clock does not move;
    elsewhere psutil's ``create_time``. ``create_time`` is boot time plus those ticks, and boot
    time is derived from the wall clock: on this VM it moved by 15 s while the services ran,
    their PID files looked stale, and ``make down`` left every process running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return "ticks:" + stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return f"{psutil.Process(pid).create_time():.3f}"


def _alive(pid: int, marker: str | None) -> bool:
    """True when ``pid`` runs and is the process we started (PIDs are reused)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if marker is None:
            return True
        if marker.startswith("ticks:"):
            return start_marker(pid) == marker
        return abs(proc.create_time() - float(marker)) < 2.0  # a PID file of an older botwatch
    except (psutil.Error, ValueError):
        return False


def start(
    service: Service,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> tuple[int, bool]:
    """Start ``argv`` in the background as ``service`` unless it already runs.

    :returns: (pid, started): started is False when the service was already running.
    """
    existing = service.pid()
    if existing is not None:
        return existing, False
    service.run_dir.mkdir(parents=True, exist_ok=True)
    with service.log_file.open("ab") as log:
        log.write(
            f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())} start: {' '.join(argv)}\n".encode()
        )
        log.flush()
        proc = subprocess.Popen(  # noqa: S603 - argv is built by botwatch, not a shell string
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,  # its own process group: stop() ends the whole group
        )
    service.pid_file.write_text(f"{proc.pid} {start_marker(proc.pid)}\n")
    return proc.pid, True


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _signal_all(procs: Sequence[psutil.Process], pgid: int | None, sig: signal.Signals) -> None:
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)


def stop(service: Service, grace_s: float = TERM_GRACE_S) -> list[int]:
    """End the service and every process it started; return the PIDs that were running.

    Descendants are listed before any signal, so workers re-parented to init when their
    parent exits are still ended. SIGTERM first, SIGKILL after ``grace_s``.
    """
    pid = service.pid()
    if pid is None:
        service.pid_file.unlink(missing_ok=True)
        return []
    procs = _tree(pid)
    try:
        pgid: int | None = os.getpgid(pid)
    except ProcessLookupError:
        pgid = None
    _signal_all(procs, pgid, signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    # Children forked while we waited belong to the group or to a listed parent.
    late = [p for proc in alive for p in _tree(proc.pid)]
    if alive or late:
        _signal_all([*alive, *late], pgid, signal.SIGKILL)
        psutil.wait_procs([*alive, *late], timeout=5)
    service.pid_file.unlink(missing_ok=True)
    return [proc.pid for proc in procs]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (tests: never hard-code ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def wait_until(
    ready: Callable[[], bool],
    services: Sequence[Service],
    *,
    what: str,
    timeout_s: float = 180.0,
    every_s: float = 1.0,
) -> float:
    """Poll ``ready`` until it is true; fail at once if a service died meanwhile.

    :returns: seconds waited.
    :raises ServiceError: on timeout or a dead service, with the tail of its log.
    """
    began = time.monotonic()
    while not ready():
        for service in services:
            if service.pid() is None:
                raise ServiceError(
                    f"{service.name} exited while waiting for {what}; last lines of "
                    f"{service.log_file}:\n{service.log_tail()}"
                )
        if time.monotonic() - began > timeout_s:
            raise ServiceError(
                f"{what} not ready after {timeout_s:.0f} s (logs: {services[0].run_dir})"
            )
        time.sleep(every_s)
    return time.monotonic() - began


def start_all(
    commands: Sequence[tuple[Service, Sequence[str]]],
    ready: Callable[[], bool],
    *,
    what: str,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 180.0,
) -> tuple[list[tuple[Service, int, bool]], float]:
    """Start each (service, argv) not yet running, then wait until ``ready``.

    All or nothing: when a start fails, or a service dies or the wait times out, the services
    this call started are stopped again before the error propagates, so a failed ``make
    airflow`` leaves no half-started scheduler behind (services that were already running
    are left alone: they are someone's earlier ``up``).

    :returns: (service, pid, started) per service, and the seconds waited.
    """
    started: list[Service] = []
    states: list[tuple[Service, int, bool]] = []
    try:
        for service, argv in commands:
            pid, new = start(service, argv, env=env)
            if new:
                started.append(service)
            states.append((service, pid, new))
        waited = wait_until(
            ready, [service for service, _ in commands], what=what, timeout_s=timeout_s
        )
    except BaseException:
        for service in reversed(started):
            stop(service)
        raise
    return states, waited


def service_main(
    prog: str,
    description: str,
    load_settings: Callable[[], object],
    actions: Mapping[str, Callable[[object], object]],
    argv: Sequence[str] | None = None,
) -> int:
    """The ``up`` / ``down`` / ``status`` command of a service module: one line and exit code
    1 for a service that fails or a bad setting (pydantic's ``ValueError``)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("action", choices=list(actions))
    args = parser.parse_args(argv)
    try:
        actions[args.action](load_settings())
    except (ServiceError, ValueError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    return 0
