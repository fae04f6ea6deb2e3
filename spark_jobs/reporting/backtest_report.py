"""What ``botwatch backtest`` prints: per interval the alerts raised and suppressed, and why.

Pure Python over the alert records the alert stage wrote (``alerting.candidates.ALERT_SCHEMA``),
so it is tested without Spark. A raised line carries the alert's own reason (score, threshold,
the features behind it); a suppressed one says what suppressed it (allowlist entry, realert
window, analyst verdict), which is what a user reads to decide whether the use case is ready.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from spark_jobs.reporting.text import cap

if TYPE_CHECKING:
    from spark_jobs.config.usecase import UseCase

#: Characters of a reason shown on one line (the full text is in --out and the lake).
REASON_WIDTH = 160
_TIME = "%Y-%m-%d %H:%M"


@dataclass
class IntervalResult:
    """What one interval's run left: its outcome, and its alert records (raised, suppressed)."""

    start: datetime
    end: datetime
    failed_stage: str | None = None
    seconds: float = 0.0
    log_file: str = ""
    alerts: list[dict[str, Any]] = field(default_factory=list)
    #: Entities over the threshold the use case's ``when:`` left out (None without one).
    scoped_out: int | None = None


def header(
    usecase: UseCase, todo: Sequence[tuple[datetime, datetime]], lake: str, logs: Path
) -> str:
    if not todo:
        return f"backtest {usecase.id}: no data interval starts in those days"
    zone = ZoneInfo(usecase.timezone)
    first, last = todo[0][0].astimezone(zone), todo[-1][1].astimezone(zone)
    return (
        f"backtest {usecase.id}: {len(todo)} interval(s) {first:{_TIME}} .. {last:{_TIME}} "
        f"{usecase.timezone}, threshold {usecase.threshold:g}; nothing is delivered\n"
        f"  lake {lake}\n  stage logs {logs}/<interval>.log"
    )


def suppression_kind(text: str | None) -> str:
    """The family of a suppression reason (``allowlist``, ``realert``, ...): its first words."""
    if not text:
        return "unknown"
    return text.split(":", 1)[0].strip()[:40]


def alert_line(record: dict[str, Any]) -> str:
    status = record.get("status") or "?"
    score = record.get("score")
    shown = f"{score:5.1f}" if isinstance(score, int | float) else "    -"
    why = record.get("reason") if status == "raised" else record.get("suppression")
    return (
        f"    {status:<10} {shown} {record.get('severity') or '':<8} {record.get('entity')}: "
        f"{cap(str(why or ''), REASON_WIDTH)}"
    )


def history_line(usecase: UseCase, result: IntervalResult) -> str:
    """A history interval (``--history-from``): its features are there to train on."""
    day = result.start.astimezone(ZoneInfo(usecase.timezone))
    return f"  {day:{_TIME}}  history: ingested, features for training ({result.seconds:.0f} s)"


def interval_lines(usecase: UseCase, result: IntervalResult) -> str:
    day = result.start.astimezone(ZoneInfo(usecase.timezone))
    head = f"  {day:{_TIME}}  "
    if result.failed_stage:
        return f"{head}FAILED in {result.failed_stage} ({result.seconds:.0f} s); log: {result.log_file}"
    statuses = Counter(r.get("status") for r in result.alerts)
    scoped = "" if result.scoped_out is None else f"  scoped out {result.scoped_out}"
    lines = [
        f"{head}raised {statuses['raised']}  suppressed {statuses['suppressed']}{scoped}  "
        f"({result.seconds:.0f} s)"
    ]
    lines += [alert_line(r) for r in result.alerts]
    return "\n".join(lines)


def summary(results: Sequence[IntervalResult], planned: int) -> str:
    records = [r for result in results for r in result.alerts]
    raised = sum(r.get("status") == "raised" for r in records)
    kinds = Counter(
        suppression_kind(r.get("suppression")) for r in records if r.get("status") == "suppressed"
    )
    failed = [r for r in results if r.failed_stage]
    quiet = sum(
        1
        for r in results
        if not r.failed_stage and not any(a.get("status") == "raised" for a in r.alerts)
    )
    by_kind = ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()) or "none"
    text = (
        f"summary: {len(results)} of {planned} interval(s) run, {len(failed)} failed, "
        f"{quiet} without an alert; raised {raised}, suppressed {sum(kinds.values())} ({by_kind})"
    )
    scoped = [r.scoped_out for r in results if r.scoped_out is not None]
    return f"{text}; scoped out {sum(scoped)}" if scoped else text


def write_jsonl(path: str, results: Sequence[IntervalResult]) -> None:
    """Every alert record, one JSON line each (ids and reasons as the lake holds them)."""
    rows = [json.dumps(r, default=str, sort_keys=True) for res in results for r in res.alerts]
    Path(path).write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")
