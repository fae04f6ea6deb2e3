"""The machine, the versions and the code a run measured, for the results' header."""

from __future__ import annotations

import glob
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

from .settings import CONFIG, REPO


def java_home() -> str | None:
    current = os.environ.get("JAVA_HOME")
    if current and os.access(os.path.join(current, "bin", "java"), os.X_OK):
        return current
    for pattern in ("/usr/lib/jvm/java-17-openjdk-*", "/usr/lib/jvm/java-21-openjdk-*"):
        for folder in sorted(glob.glob(pattern)):
            if os.access(os.path.join(folder, "bin", "java"), os.X_OK):
                return folder
    return None


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "unavailable"


def machine_info() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text()
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "spark_jobs"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    home = java_home()
    return {
        "host": platform.node(),
        "nproc": os.cpu_count(),
        "mem_gb": round(mem_kb / 2**20, 1),
        "cpu_model": cpu_model,
        "kernel": platform.release(),
        "commit": commit + (" + uncommitted spark_jobs/ changes" if dirty else ""),
        "java": _first_line([f"{home}/bin/java" if home else "java", "-version"]),
        "goaccess": _first_line(["goaccess", "--version"]),
        "python": platform.python_version(),
    }


def versions(tools: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    if "duckdb" in tools:
        try:
            import duckdb

            found["duckdb"] = duckdb.__version__
        except ImportError:
            found["duckdb"] = "missing"
    try:
        import pyspark

        found["pyspark"] = pyspark.__version__
    except ImportError:
        found["pyspark"] = "missing"
    return found


def code_state() -> str:
    """Commit and a digest of what the botwatch runs execute, to catch edits during a run."""
    import hashlib

    digest = hashlib.sha256()
    paths = sorted((REPO / "spark_jobs").rglob("*.py"))
    paths += [CONFIG, REPO / "usecase_configs" / "_defaults.yaml", *sorted(REPO.glob("*.toml"))]
    for path in paths:
        if path.is_file():
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    head = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    return f"{head}:{digest.hexdigest()[:12]}"


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())
