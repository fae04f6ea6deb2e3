"""Expected alerts of a backtest: what ``cscli hubtest`` assertions are to a CrowdSec scenario.

A file beside a small real log says which entities a use case must raise and which it must
suppress (and by what) on each interval of that log. ``botwatch backtest --expect FILE`` runs the
use case over the file's days on that log and exits 1 naming every difference;
``--write-expect FILE`` writes the file from a run, for a person to read before committing it.
Each shipped use case has one (``tests/fixtures/usecases/<id>/expected.yaml``) and the tests
fail for a shipped use case without one.

Entities, not alert ids: an id hashes the model version, which changes with any retraining,
while "this client is raised on that day" is what the use case promises.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BeforeValidator, Field

from spark_jobs.config.base import Strict
from spark_jobs.lake.layout import iso_utc
from spark_jobs.reporting.backtest_report import IntervalResult, suppression_kind

#: File name of a use case's expectations in its fixture folder.
EXPECTED_FILE = "expected.yaml"


def _day_or_instant(value: object) -> object:
    """``2019-10-15`` a whole day, ``2019-10-15T00:00`` an interval start (as on the CLI)."""
    if isinstance(value, str):
        text = value.strip()
        return (
            datetime.fromisoformat(text) if "T" in text or " " in text else date.fromisoformat(text)
        )
    return value


DayOrInstant = Annotated[date | datetime, BeforeValidator(_day_or_instant)]


class IntervalExpectation(Strict):
    raised: list[str] = Field(default_factory=list, description="Entities raised, any order.")
    suppressed: dict[str, str] = Field(
        default_factory=dict,
        description="Entity -> what suppresses it (allowlist, realert, verdict).",
    )


class Expectation(Strict):
    """One fixture: the days to run, the environment (log and label paths), the alerts."""

    use_case: str
    from_day: DayOrInstant = Field(alias="from", description="A day, or an interval start.")
    to_day: DayOrInstant = Field(alias="to")
    history_from: DayOrInstant | None = Field(
        None, description="First day of history the first model trains on (--history-from)."
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Set while the backtest runs, e.g. BOTWATCH_LOGS; a relative path is "
        "taken relative to the file's folder.",
    )
    intervals: dict[str, IntervalExpectation] = Field(
        default_factory=dict, description="Interval start (ISO, UTC) -> its alerts."
    )


def load(path: str | Path) -> Expectation:
    text = Path(path).read_text(encoding="utf-8")
    return Expectation.model_validate(yaml.safe_load(text) or {})


def resolved_env(expectation: Expectation, path: str | Path) -> dict[str, str]:
    """The fixture's variables with relative paths made absolute (against its folder)."""
    folder = Path(path).resolve().parent
    return {
        name: value if os.path.isabs(value) or "://" in value else str(folder / value)
        for name, value in expectation.env.items()
    }


@contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    """``variables`` set for the duration, the previous values restored after."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def observed(results: Sequence[IntervalResult]) -> dict[str, IntervalExpectation]:
    """What a backtest raised and suppressed, in the expectation's shape."""
    found = {}
    for result in results:
        raised = sorted(r["entity"] for r in result.alerts if r.get("status") == "raised")
        suppressed = {
            r["entity"]: suppression_kind(r.get("suppression"))
            for r in result.alerts
            if r.get("status") == "suppressed"
        }
        if raised or suppressed:
            found[iso_utc(result.start)] = IntervalExpectation(
                raised=raised, suppressed=dict(sorted(suppressed.items()))
            )
    return found


def differences(expectation: Expectation, results: Sequence[IntervalResult]) -> list[str]:
    """One line per entity raised or suppressed otherwise than expected; [] when all match."""
    got, lines = observed(results), []
    for failed in (r for r in results if r.failed_stage):
        lines.append(f"{failed.start.isoformat()}: the {failed.failed_stage} stage failed")
    for key in sorted(set(got) | set(expectation.intervals)):
        want = expectation.intervals.get(key, IntervalExpectation())
        have = got.get(key, IntervalExpectation())
        for entity in sorted(set(want.raised) - set(have.raised)):
            lines.append(f"{key}: {entity} expected raised, was not")
        for entity in sorted(set(have.raised) - set(want.raised)):
            lines.append(f"{key}: {entity} raised, not expected")
        for entity in sorted(set(want.suppressed) | set(have.suppressed)):
            expected, actual = want.suppressed.get(entity), have.suppressed.get(entity)
            if expected != actual:
                lines.append(f"{key}: {entity} expected {_said(expected)}, was {_said(actual)}")
    return lines


def _said(kind: str | None) -> str:
    return f"suppressed by {kind}" if kind else "not suppressed"


def referenced_env(config_text: str, folder: str | Path) -> dict[str, str]:
    """The ``${NAME}`` variables a config refers to that are set now, an existing local path
    written relative to ``folder``: what a new expectation file needs to find its log again,
    wherever the repository is checked out."""
    base, found = Path(folder).resolve(), {}
    for name in dict.fromkeys(re.findall(r"\$\{(\w+)", config_text)):
        if name in os.environ:
            value = os.environ[name]
            local = "://" not in value and Path(value).exists()
            found[name] = os.path.relpath(Path(value).resolve(), base) if local else value
    return found


def dump(expectation: Expectation, results: Sequence[IntervalResult]) -> str:
    """The expectation file for this run: same days and environment, the alerts observed."""
    document = {
        "use_case": expectation.use_case,
        "from": expectation.from_day.isoformat(),
        "to": expectation.to_day.isoformat(),
        **(
            {"history_from": expectation.history_from.isoformat()}
            if expectation.history_from
            else {}
        ),
        "env": expectation.env,
        "intervals": {
            key: value.model_dump(exclude_defaults=True) or {"raised": []}
            for key, value in observed(results).items()
        },
    }
    head = (
        f"# Expected alerts of use case {expectation.use_case} on this folder's log (written by\n"
        "# botwatch backtest --write-expect; read it before committing: every entity is a claim).\n"
    )
    return head + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
