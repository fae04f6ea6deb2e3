"""Typed run records: what each stage leaves in ``runs/use_case=X/interval=K/<stage>.json``.

A run record is how one stage tells the next ones, the report, the demo and a person what it
did: the validate gate checks the ingest counts, the run report shows them, the demo sums them.
Typed records give every reader the same field names and types, and a record that lacks a
field or holds a wrong type fails in ``from_json`` with ``RecordError`` naming it, instead of a
``KeyError`` deep in a reader.

The JSON keeps the keys the stages always wrote (tests, docs and people read these files): the
header (``stage``, ``use_case``, ``interval_start``, ``interval_end``) and the stage's fields.
A field listed in ``OMIT_NONE`` is left out when it is None, as the stages did for keys they
only sometimes write. Reading ignores keys a record type does not know, so an older or newer
writer's extra keys never break a reader.

Pure Python (pydantic): the demo reads records from a local lake without Spark.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, ValidationError

#: The per-file and per-run line counts of ingest: ``read == parsed + quarantined +
#: out_of_window``, in the order a person reads them.
LINE_COUNTS = ("read", "parsed", "quarantined", "out_of_window")


class RecordError(ValueError):
    """A run record lacks a field, or holds a value of the wrong type."""


def _dump(value: Any) -> Any:
    if isinstance(value, _Json):
        return value.to_json()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


class _Json(BaseModel):
    """A JSON object with typed fields; unknown keys are ignored on read."""

    model_config = ConfigDict(extra="ignore")
    #: Fields written only when not None.
    OMIT_NONE: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            name: _dump(getattr(self, name))
            for name in type(self).model_fields
            if not (name in self.OMIT_NONE and getattr(self, name) is None)
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        try:
            return cls.model_validate(dict(data))
        except (TypeError, ValueError) as exc:  # ValidationError is a ValueError
            raise RecordError(f"{cls.__name__}: {_why(exc)}") from exc


def _why(exc: Exception) -> str:
    """``read: Field required; files.0.parsed: Input should be a valid integer``."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '(record)'}: {e['msg']}" for e in exc.errors()
    )


#: How a stage run that exits 0 ended: ``ok`` did its work; ``no_data``: the interval had no
#: log lines (logs that ended, or not yet arrived), so nothing was learnt or alerted, and the run
#: is still a success. A failure (a gate, a missing input) is an exit code, not an outcome.
Outcome = Literal["ok", "no_data"]


class RunRecord(_Json):
    """The header every stage's record has; ``STAGE`` names the file (``<stage>.json``).

    The class variables let the runner and the stage summary treat every stage alike:
    ``WRITES`` the lake datasets the stage writes a partition of for its interval, ``SUMMARY``
    the fields a person reads first, ``OUTPUTS`` the fields holding other paths it wrote (a
    model, a report), ``NO_DATA`` the fields of its record of an interval without data.
    """

    STAGE: ClassVar[str] = ""
    WRITES: ClassVar[tuple[str, ...]] = ()
    SUMMARY: ClassVar[tuple[str, ...]] = ()
    OUTPUTS: ClassVar[tuple[str, ...]] = ()
    NO_DATA: ClassVar[dict[str, Any]] = {}

    use_case: str | None = None
    interval_start: str | None = None
    interval_end: str | None = None
    outcome: Outcome = "ok"
    #: With ``outcome: no_data``: why there was nothing to do, one line.
    no_data_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"stage": self.STAGE, **super().to_json()}
        return {k: v for k, v in data.items() if k != "no_data_reason" or v is not None}

    @classmethod
    def of_no_data(cls, reason: str, **fields: Any) -> Self:
        """The record of a stage that found its interval without data (see ``Outcome``)."""
        return cls(**{**cls.NO_DATA, **fields}, outcome="no_data", no_data_reason=reason)

    def summary_counts(self) -> dict[str, Any]:
        """Label -> count (or short text) of the ``SUMMARY`` fields that are set."""
        values = {name.replace("_", " "): getattr(self, name) for name in self.SUMMARY}
        return {label: value for label, value in values.items() if value is not None}

    def extra_outputs(self) -> list[str]:
        """The paths in the ``OUTPUTS`` fields that are set."""
        return [path for path in (getattr(self, name) for name in self.OUTPUTS) if path]

    def gate_failed(self) -> bool:
        """True when this record is a quality gate's refusal (the summary says so)."""
        return False


class FileCounts(_Json):
    """What happened to the lines of one file of the ingest."""

    OMIT_NONE = ("included_out_of_window",)

    source_file: str
    read: int
    parsed: int
    quarantined: int
    out_of_window: int
    truncated: bool = False
    reasons: dict[str, int] = {}
    #: With ``out_of_window: include``, the lines outside the interval counted in ``parsed``.
    included_out_of_window: int | None = None

    def lost_or_double(self) -> bool:
        return self.read != self.parsed + self.quarantined + self.out_of_window

    def included(self) -> FileCounts:
        """These counts when the lines outside the interval were parsed into this run."""
        return self.model_copy(
            update={
                "parsed": self.parsed + self.out_of_window,
                "out_of_window": 0,
                "included_out_of_window": self.out_of_window,
            }
        )


class IngestRecord(RunRecord):
    """Lines read, parsed, quarantined and out of window, per file and in total."""

    STAGE = "ingest"
    WRITES = ("parsed", "quarantine")
    SUMMARY = (*LINE_COUNTS, "truncated_files")

    read: int
    parsed: int
    quarantined: int
    out_of_window: int
    truncated_files: int = 0
    format: str | None = None
    format_detection: dict[str, Any] | None = None
    out_of_window_policy: str | None = None
    files: list[FileCounts] = []
    globs: list[str] = []

    @classmethod
    def of_files(cls, files: list[FileCounts], **fields: Any) -> IngestRecord:
        """The record whose totals are the sums of ``files``."""
        totals = {name: sum(getattr(f, name) for f in files) for name in LINE_COUNTS}
        return cls(files=files, truncated_files=sum(f.truncated for f in files), **totals, **fields)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in LINE_COUNTS}


class SuiteOutcome(_Json):
    success: bool
    failed: list[dict[str, Any]] = []


class ValidateRecord(RunRecord):
    """The gate's verdict; ``counts`` is absent when its inputs were missing."""

    STAGE = "validate"
    WRITES = ("validation",)
    NO_DATA = {"success": True}
    OMIT_NONE = ("counts",)

    success: bool
    failures: list[str] = []
    suites: dict[str, SuiteOutcome] = {}
    counts: dict[str, Any] | None = None

    def summary_counts(self) -> dict[str, Any]:
        passed = f"{sum(s.success for s in self.suites.values())}/{len(self.suites)}"
        return {"suites passed": passed, "failed checks": len(self.failures)}

    def gate_failed(self) -> bool:
        return not self.success


class FeatureRecord(RunRecord):
    STAGE = "feature"
    WRITES = ("features",)
    SUMMARY = ("sessions", "entities", "unattributed_rows")
    NO_DATA = dict.fromkeys(SUMMARY, 0) | dict.fromkeys(("entity_key", "output"), None)

    sessions: int
    entities: int
    unattributed_rows: int
    entity_key: str | None
    session_gap_minutes: float | None = None
    output: str | None


class TrainRecord(RunRecord):
    """A fit, or why none was needed (``skipped``: only the reason and the serving model)."""

    STAGE = "train"
    SUMMARY = ("model_version", "intervals", "reason")
    OUTPUTS = ("output",)
    NO_DATA = {"skipped": True, "reason": "no data in this interval"}
    OMIT_NONE = ("intervals", "training_metrics", "labels", "verdict_labels", "output")

    skipped: bool
    reason: str | None = None
    model_version: str | None = None
    intervals: int | None = None
    training_metrics: dict[str, Any] | None = None
    labels: dict[str, Any] | None = None
    verdict_labels: dict[str, int] | None = None  # sessions labelled by verdicts, by kind
    output: str | None = None


class ScoreRecord(RunRecord):
    STAGE = "score"
    WRITES = ("scores",)
    SUMMARY = ("sessions", "entities", "at_or_above_threshold", "max")
    NO_DATA = {"sessions": 0, "entities": 0}

    model_version: str | None = None
    model_window_end: str | None = None
    output: str | None = None
    sessions: int
    entities: int
    max: float | None = None
    at_or_above_threshold: int = 0
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None


class AlertRecord(RunRecord):
    STAGE = "alert"
    WRITES = ("alerts",)
    SUMMARY = ("candidates", "alerts", "suppressed", "capped", "scoped_out", "outbox_alerts")
    OUTPUTS = ("outbox", "report")
    NO_DATA = {"candidates": 0, "alerts": 0, "suppressed": 0, "capped": 0}

    candidates: int
    alerts: int
    suppressed: int
    capped: int
    #: Entities over the threshold left out by the use case's ``when:`` (None without one).
    scoped_out: int | None = None
    outbox: str | None = None
    outbox_alerts: int = 0
    report: str | None = None
    suppressions: list[str] = []
    top_reasons: list[str] = []
    #: Analysts' verdicts: ``suppressed`` (by one), ``suppressions`` (first 20), ``recorded``
    verdicts: dict[str, Any] = {}


class DeliverRecord(RunRecord):
    """Written by ``alerting.delivery`` (the Airflow deliver task), read here for summaries."""

    STAGE = "deliver"
    SUMMARY = ("outbox_alerts", "delivered", "failed")

    outbox_intervals: list[str] = []
    outbox_alerts: int = 0
    delivered: int
    failed: int
    sinks: list[dict[str, Any]] = []


#: stage name -> its record type.
RECORD_TYPES: dict[str, type[RunRecord]] = {cls.STAGE: cls for cls in (
    IngestRecord, ValidateRecord, FeatureRecord, TrainRecord, ScoreRecord, AlertRecord,
    DeliverRecord)}  # fmt: skip
