"""Where the time of a use case's DAG runs went: per run and task, from Airflow's own records.

Run by hand after a backfill through ``make airflow`` (or ``make demo``'s ``airflow dags
test``); reads the metadata DB (SQLite: ``$AIRFLOW_HOME/airflow.db``) and prints a markdown
table: each run's task durations (end - start, as Airflow recorded them), the run's own span
(its first task's start to its last task's end), and the whole span of the runs with the
machine's load average now::

    .venv/bin/python bench/dag_runs.py --dag behavioural_bots --from 2015-05-17 --to 2015-06-15
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
from datetime import datetime
from pathlib import Path

TASKS = ("ingest", "validate", "feature", "train", "score", "alert", "deliver")


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def task_rows(db: Path, dag: str, first: str, last: str) -> list[sqlite3.Row]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    return con.execute(
        """
        SELECT r.logical_date AS day, r.state AS run_state, t.task_id, t.state,
               t.start_date, t.end_date
        FROM dag_run r JOIN task_instance t ON t.run_id = r.run_id AND t.dag_id = r.dag_id
        WHERE r.dag_id = ? AND date(r.logical_date) BETWEEN ? AND ?
        ORDER BY r.logical_date
        """,
        (dag, first, last),
    ).fetchall()


def table(rows: list[sqlite3.Row]) -> tuple[list[str], dict[str, list[float]], float | None]:
    """Markdown lines (one per run), durations per task, and the whole span in seconds."""
    runs: dict[str, dict[str, sqlite3.Row]] = {}
    for row in rows:
        runs.setdefault(row["day"][:10], {})[row["task_id"].split(".")[-1]] = row
    lines = [
        "| data day | " + " | ".join(TASKS) + " | run (first start to last end) | state |",
        "|---|" + "---:|" * (len(TASKS) + 1) + "---|",
    ]
    per_task: dict[str, list[float]] = {t: [] for t in TASKS}
    starts, ends = [], []
    for day, tasks in sorted(runs.items()):
        cells = []
        for task in TASKS:
            row = tasks.get(task)
            took = _seconds(row["start_date"], row["end_date"]) if row else None
            cells.append(f"{took:.1f} s" if took is not None else "–")
            if took is not None:
                per_task[task].append(took)
        times = [r for r in tasks.values() if r["start_date"] and r["end_date"]]
        first = min(r["start_date"] for r in times) if times else None
        last = max(r["end_date"] for r in times) if times else None
        span = _seconds(first, last)
        starts += [first] if first else []
        ends += [last] if last else []
        state = next(iter(tasks.values()))["run_state"]
        lines.append(f"| {day} | " + " | ".join(cells) + f" | {span or 0:.1f} s | {state} |")
    whole = _seconds(min(starts), max(ends)) if starts else None
    return lines, per_task, whole


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dag", default="behavioural_bots")
    parser.add_argument("--from", dest="first", required=True, help="first data day")
    parser.add_argument("--to", dest="last", required=True, help="last data day")
    home = os.environ.get("AIRFLOW_HOME", str(Path(__file__).resolve().parents[1] / ".airflow"))
    parser.add_argument("--db", default=str(Path(home) / "airflow.db"))
    args = parser.parse_args(argv)
    rows = task_rows(Path(args.db), args.dag, args.first, args.last)
    if not rows:
        print(f"no runs of {args.dag} between {args.first} and {args.last} in {args.db}")
        return 1
    lines, per_task, whole = table(rows)
    print("\n".join(lines))
    medians = ", ".join(f"{t} {statistics.median(v):.1f} s" for t, v in per_task.items() if v)
    print(f"\nmedian per task: {medians}")
    runs = len(lines) - 2
    print(f"{runs} runs, first task start to last task end: {whole or 0:.0f} s "
          f"({(whole or 0) / max(runs, 1):.1f} s per run); load average now "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
