"""The bench's fixed paths, defaults and goals, and its stderr log."""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
BENCH = REPO / "bench"
VENV_BIN = REPO / ".venv" / "bin"
SHIM_DIR = REPO / "plugins" / "botwatch_airflow" / "bin"
CONFIG = BENCH / "aircare_bench.yaml"
README = BENCH / "README.md"
DEFAULT_DATA = "/work/shared/data/logs/aircareonline/*.log.gz"
DEFAULT_WORKDIR = "/tmp/botwatch-bench"
EXPECTED_LINES = 2_748_404
PLAIN_NAME = "aircare_all.log"
# One interval around every month of the data (2012-11 .. 2015-10), as the issue runs it.
START = "2012-01-01T00:00:00+00:00"
END = "2016-01-01T00:00:00+00:00"
ALL_TOOLS = ("botwatch", "goaccess", "duckdb", "spark-startup", "botwatch-head")
HEAD_LINES = 10_000
# contender median / botwatch median, at least (issue 13's targets; stretch 4x / 1.5x)
GOALS = {"goaccess": 2.0, "duckdb": 1.0}
README_START = "<!-- bench:results:start -->"
README_END = "<!-- bench:results:end -->"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
