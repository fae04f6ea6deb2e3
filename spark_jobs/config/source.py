"""The ``source`` section of a use case: which files hold an interval's logs and how to read them.

Its own module because the format keys carry the most validation (format names, format strings
compiled at config time so a typo in a LogFormat is a config error, not a failed run). Pure
pydantic: imported by the DAG factory as well as the jobs.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spark_jobs.errors import LogFormatError
from spark_jobs.parsing.formats.presets import FORMAT_NAMES, JSON_DEFAULT_FIELDS, compile_format


class SourceConfig(BaseModel):
    """Which files hold the logs of a data interval and how to read them."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        description="Glob of log files (plain, .gz or .bz2). May use ${VAR:-default} environment "
        "references, {start:%Y-%m-%d} / {end:...} placeholders filled from the data interval, "
        "and {hour:FMT} / {day:FMT} expanded to every hour / day the interval covers "
        "(landing folders written hourly or daily by a log shipper).",
    )
    format: str | None = Field(
        None,
        description="A preset (" + ", ".join(FORMAT_NAMES) + "); default combined. "
        "'auto' picks the preset that parses most of a sample and reports it.",
    )
    log_format: str | None = Field(
        None,
        description="Instead of a preset: the Apache LogFormat or nginx log_format string "
        "the server writes, as in its config file.",
    )
    json_fields: dict[str, list[str]] = Field(
        default_factory=dict,
        description="For format json: canonical column -> JSON keys to try, overriding the "
        "built-in ECS / nginx names (e.g. client: [req.ip]).",
    )
    log_timezone: str = Field(
        "UTC", description="Zone of times written without an offset (custom %{...}t formats)."
    )
    out_of_window: Literal["keep", "include", "drop"] = Field(
        "keep",
        description="Lines whose event time is outside the run's interval: keep (and drop, "
        "the same since the source store) = count them as out_of_window and leave them in the "
        "source store, where the run of their own interval selects them; include = score them "
        "in this run (files are cut by arrival time).",
    )

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None) -> str | None:
        if value is not None and value not in FORMAT_NAMES:
            raise ValueError(f"unknown format {value!r}; known: {', '.join(FORMAT_NAMES)}")
        return value

    @field_validator("log_format")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_format(value)
            except LogFormatError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("json_fields")
    @classmethod
    def _json_columns(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(JSON_DEFAULT_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown column(s) {', '.join(unknown)}; known: {', '.join(JSON_DEFAULT_FIELDS)}"
            )
        return value

    @field_validator("log_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_zone(value)

    @model_validator(mode="after")
    def _one_way_to_say_format(self) -> SourceConfig:
        if self.format and self.log_format:
            raise ValueError("give either format or log_format, not both")
        return self

    @property
    def format_spec(self) -> str:
        """What ingest parses with: the log_format string, else the preset name."""
        return self.log_format or self.format or "combined"


def known_zone(value: str) -> str:
    """An IANA zone name, checked: a typo would silently shift every timestamp."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value
