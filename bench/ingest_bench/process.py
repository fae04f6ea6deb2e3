"""Running one process tree: wall time, CPU time, and the peak RSS sum sampled over the tree."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .settings import REPO


def _tree_rss_proc(root: int) -> tuple[int, int]:
    """(sum of VmRSS bytes, process count) of ``root`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    total = count = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status", "rb") as handle:
                for line in handle:
                    if line.startswith(b"VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        count += 1
                        break
        except OSError:
            continue
    return total, count


def _tree_rss_psutil(psutil: Any, root: Any) -> tuple[int, int]:
    total = count = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
            count += 1
        except psutil.Error:
            continue
    return total, count


@dataclass
class Measured:
    wall_s: float
    peak_rss_mb: float
    peak_procs: int
    cpu_s: float
    returncode: int
    launched_at: float  # epoch seconds, to place the job's own log timestamps
    timed_out: bool = False


def _server_cpu(psutil: Any, pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            for proc in (root := psutil.Process(pid), *root.children(recursive=True)):
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


def measure(
    argv: list[str],
    env: dict[str, str],
    log_path: Path,
    sample_s: float,
    timeout_s: float,
    servers: list[int] | None = None,
) -> Measured:
    """Run argv to completion; wall time, peak tree RSS, CPU time of its waited-for children.

    ``servers``: PIDs of long-lived processes that do the run's work (the Spark Connect
    server): their trees' RSS is added to every sample and their CPU time to the run's.
    """
    try:
        import psutil
    except ImportError:  # the venv has it (Airflow needs it); /proc works everywhere else
        psutil = None
    servers = servers or []
    if servers and psutil is None:
        raise RuntimeError("measuring a Spark Connect server needs psutil")
    server_cpu_before = _server_cpu(psutil, servers) if servers else 0.0
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = [0, 0]
    done = threading.Event()
    with log_path.open("wb") as out:
        launched_at = time.time()
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a timeout kills the whole tree
        )
        root = psutil.Process(proc.pid) if psutil else None

        def sample() -> None:
            while not done.is_set():
                if psutil:
                    rss, count = _tree_rss_psutil(psutil, root)
                    for pid in servers:
                        more = _tree_rss_psutil(psutil, psutil.Process(pid))
                        rss, count = rss + more[0], count + more[1]
                else:
                    rss, count = _tree_rss_proc(proc.pid)
                peak[0] = max(peak[0], rss)
                peak[1] = max(peak[1], count)
                done.wait(sample_s)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timed_out = False
        try:
            returncode = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            returncode = proc.wait()
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    if servers:
        cpu += _server_cpu(psutil, servers) - server_cpu_before
    return Measured(
        wall_s=wall,
        peak_rss_mb=peak[0] / 2**20,
        peak_procs=peak[1],
        cpu_s=cpu,
        returncode=returncode,
        launched_at=launched_at,
        timed_out=timed_out,
    )
