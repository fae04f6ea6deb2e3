"""The short block every stage ends its task log with: what ran, on which interval, what it did.

A DAG run's task log is mostly Spark's and Airflow's lines; a person opening it wants to know in
five lines whether the stage did its work, on which data interval (in UTC and in the use case's
own time zone, since a daily run of ``America/New_York`` covers a local day that is not the UTC
day), what it counted, where it wrote and how long it took. The block is built from the typed
run record the stage wrote (``lake.records``), so every stage gets one without code of its own::

    botwatch ingest ok  use case behavioural_bots
      interval  2015-05-17 00:00 → 2015-05-18 00:00 UTC (24 h)  =  2015-05-16 20:00 → ...
      counts    read 10,000  parsed 9,870  quarantined 12  out of window 118
      wrote     <lake>/parsed/use_case=…/interval=…  (+ quarantine)
      took      31.2 s

Pure Python (zoneinfo): unit-tested without Spark, and used by the deliver task in Airflow.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from spark_jobs.lake import layout
from spark_jobs.lake.records import DeliverRecord, RecordError, RunRecord
from spark_jobs.reporting.text import cap, squash

#: A failure reason longer than this is cut (the full text is in the log line above and in
#: the run record): the block must stay short.
REASON_LIMIT = 400
_TIME = "%Y-%m-%d %H:%M"


def _number(value: object) -> str:
    """``10,000``, ``99.6``, or the text as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}"


def _length(start: datetime, end: datetime) -> str:
    """``24 h``, ``23 h`` on a spring-forward day, ``90 min``: the wall-clock span of the run."""
    # Aware datetimes of one zone subtract as wall clocks: compare them in UTC.
    minutes = round((end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def interval_text(start: datetime, end: datetime, timezone: str) -> str:
    """The interval in UTC and, when the use case has another zone, in that zone."""
    utc = f"{start.astimezone(UTC):{_TIME}} → {end.astimezone(UTC):{_TIME}} UTC"
    text = f"{utc} ({_length(start, end)})"
    if timezone == "UTC":
        return text
    zone = ZoneInfo(timezone)
    local = f"{start.astimezone(zone):{_TIME}} → {end.astimezone(zone):{_TIME}} {timezone}"
    return f"{text}  =  {local}"


def took_text(seconds: float) -> str:
    """``31.2 s`` below two minutes, ``2 min 31 s`` above."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60} s"


def wrote_text(partitions: Sequence[str], datasets: Sequence[str]) -> str:
    """The first partition written in full, the other datasets by name (same interval)."""
    if not partitions:
        return ""
    rest = f"  (+ {', '.join(datasets[1:])})" if len(datasets) > 1 else ""
    return f"{partitions[0]}{rest}"


@dataclass(frozen=True)
class StageSummary:
    """What one stage run did, ready to print.

    :param stage: the stage name.
    :param use_case: the use case id.
    :param start: the data interval's start (aware).
    :param end: its end.
    :param timezone: the use case's ``timezone`` (IANA name).
    :param took_s: wall time of the stage, from the start of its ``main``.
    :param record: the run record it wrote this run; None when it failed before writing one.
    :param wrote: paths it wrote: its first interval partition, then the record's other paths.
    :param failure: the one-line reason of a failed run; None when it succeeded.
    :param phases: label -> seconds, shown after ``took``: the process's time before ``main``
        (interpreter start and imports, not part of ``took``), then where ``took`` went
        (session, work); the writes are part of the work (Spark runs a plan when it writes).
    """

    stage: str
    use_case: str
    start: datetime
    end: datetime
    timezone: str
    took_s: float
    record: RunRecord | None = None
    wrote: tuple[str, ...] = ()
    failure: str | None = None
    phases: tuple[tuple[str, float], ...] = ()

    @property
    def gate_failed(self) -> bool:
        return self.failure is not None and self.record is not None and self.record.gate_failed()

    @property
    def no_data(self) -> bool:
        return self.failure is None and self.record is not None and self.record.outcome == "no_data"

    def status(self) -> str:
        """``ok``, ``ok (no data)``, ``FAILED`` or ``FAILED (quality gate)``."""
        if self.failure is not None:
            return "FAILED (quality gate)" if self.gate_failed else "FAILED"
        return "ok (no data)" if self.no_data else "ok"

    def lines(self) -> list[str]:
        lines = [f"botwatch {self.stage} {self.status()}  use case {self.use_case}"]
        if self.failure is not None:
            what = "quality gate: " if self.gate_failed else ""
            lines.append(f"  FAILED: {what}{cap(squash(self.failure), REASON_LIMIT)}")
        if self.no_data:
            lines.append(f"  no data: {squash(self.record.no_data_reason or 'no log lines')}")
        lines.append(f"  interval  {interval_text(self.start, self.end, self.timezone)}")
        if self.record is not None and (counts := self.record.summary_counts()):
            lines.append("  counts    " + "  ".join(f"{k} {_number(v)}" for k, v in counts.items()))
        for i, path in enumerate(self.wrote):
            lines.append(f"  {'wrote' if i == 0 else '':<8}  {path}")
        took = f"  took      {took_text(self.took_s)}"
        if self.phases:
            took += "  (" + ", ".join(f"{k} {took_text(v)}" for k, v in self.phases) + ")"
        lines.append(took)
        return lines

    def text(self) -> str:
        return "\n".join(self.lines())


def written_paths(record: RunRecord | None, partition_of: Callable[[str], str]) -> tuple[str, ...]:
    """What the summary's ``wrote`` lines show for ``record``.

    :param record: the run record; None: nothing is shown.
    :param partition_of: dataset name -> this interval's partition path.
    :return: the stage's first partition (its other datasets by name), then the record's
        other outputs (model, outbox, report); the run record itself when there is nothing
        else, as for a later stage on an interval without data.
    """
    if record is None:
        return ()
    paths: list[str] = []
    if record.outcome == "ok" or record.STAGE == "ingest":  # ingest writes empty partitions
        datasets = record.WRITES
        paths = [wrote_text([partition_of(datasets[0])], datasets)] if datasets else []
        paths += record.extra_outputs()
    return tuple(paths) or (f"{partition_of('runs')}/{record.STAGE}.json",)


def delivery_summary(
    usecase: Any,
    start: datetime,
    end: datetime,
    lake_root: str,
    took_s: float,
    summary: Mapping[str, Any] | None,
    failure: str | None = None,
) -> StageSummary:
    """The summary of the deliver step (no Spark, no ``run_main``) from the summary dict that
    ``alerting.delivery.deliver`` returns and writes as ``runs/…/deliver.json``."""
    record = None
    if summary is not None:
        try:
            record = DeliverRecord.from_json(summary)
        except RecordError as exc:
            failure = failure or str(exc)

    def partition_of(dataset: str) -> str:
        return layout.partition_path(lake_root, dataset, usecase.id, start)

    return StageSummary(
        stage="deliver", use_case=usecase.id, start=start, end=end, timezone=usecase.timezone,
        took_s=took_s, record=record, wrote=written_paths(record, partition_of), failure=failure,
    )  # fmt: skip


def emit(summary: StageSummary, log: logging.Logger | None = None) -> None:
    """Print the block to stderr, where a Spark stage's own log lines go, so they stay in order.

    :param log: log each line there instead. The deliver task runs inside the Airflow worker,
        which forwards stderr later than log records: printed, the block lands after the
        task's end, in the log's collapsed "Post Execute" group of the UI.
    """
    if log is None:
        print(summary.text(), file=sys.stderr, flush=True)
        return
    for line in summary.text().splitlines():
        log.info("%s", line)
