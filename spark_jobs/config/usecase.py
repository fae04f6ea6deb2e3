"""The one typed schema for use-case YAML, shared by the DAG factory and the Spark jobs.

Both sides import this package, so it must stay light: pydantic and PyYAML only (no Spark, no
Airflow). The sections with their own vocabulary live beside it (``source``, ``model``,
``alerts``); reading files is ``loading``, paths and the project home are ``paths``.
"""

from __future__ import annotations

import difflib
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, ValidationInfo, field_validator

from spark_jobs.config import paths
from spark_jobs.config.alerts import AlertConfig
from spark_jobs.config.base import ProjectBound, Strict, context_home
from spark_jobs.config.conditions import Condition, parse
from spark_jobs.config.model import ModelConfig
from spark_jobs.config.source import SourceConfig, known_zone
from spark_jobs.features.catalog import ALL_FEATURE_NAMES

#: Feature names the feature stage knows (defined in ``features.catalog``, which has no Spark
#: import, so configs are validated at DAG-parse time).
KNOWN_FEATURES = ALL_FEATURE_NAMES

#: Columns beside the features that say what a client calls itself: weak labels, never features
#: (docs/features.md, "Weak labels are not features").
WEAK_LABELS = (
    "declared_crawler", "is_declared_crawler", "crawler_name", "user_agent",
    "crawler_operator", "spoofed_crawler", "crawler_check",
)  # fmt: skip

#: Who a scored row belongs to (see ``features.sessions.entity_column``).
EntityKey = Literal["client", "client_user_agent", "session_id"]
ENTITY_KEYS: tuple[EntityKey, ...] = get_args(EntityKey)


def _utc(moment: datetime) -> datetime:
    """Comparable whether written with an offset or without (then read as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class EntityConfig(Strict):
    """Who a scored row belongs to, and how their requests are cut into sessions."""

    key: EntityKey = Field(
        "client",
        description="client: the address/host; client_user_agent: address and User-Agent "
        "(separates NAT'd users); session_id: the session id the log carries (%{NAME}C / "
        "$cookie_NAME), for logs without client addresses.",
    )
    session_gap_minutes: float | None = Field(
        30,
        gt=0,
        description="A new session starts after this many minutes without a request. "
        "null: one session per entity and interval (e.g. when key is session_id).",
    )


class QualityConfig(Strict):
    suites: list[str] = Field(
        default_factory=lambda: ["parsed_logs", "enriched_logs", "client_entity"],
        description="Great Expectations suite names, each a JSON file in expectations/. "
        "Logs without a client (keyed by session id) leave out client_entity.",
    )
    max_quarantined_ratio: float = Field(0.05, ge=0.0, le=1.0)
    min_parsed_rows: int = Field(1, ge=0)
    allow_truncated_files: bool = Field(
        False,
        description="Let a run go on when a .gz/.bz2 file is cut short (its readable lines "
        "are used, the damage is quarantined). Off: the gate stops the run.",
    )

    @field_validator("suites")
    @classmethod
    def _suites_exist(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """Catch a misspelt suite when the DAG is parsed, not when validate runs."""
        folder = paths.expectations_dir(context_home(info))
        if folder.is_dir():  # a cluster driver may run without the project's folder
            missing = [name for name in value if not (folder / f"{name}.json").is_file()]
            if missing:
                known = sorted(p.stem for p in folder.glob("*.json"))
                close = difflib.get_close_matches(missing[0], known, n=1, cutoff=0.6)
                mean = f"did you mean {close[0]!r}? " if close else ""
                raise ValueError(
                    f"unknown suite {', '.join(map(repr, missing))}: no such file in {folder}; "
                    f"{mean}known: {', '.join(known)}"
                )
        return value


class StorageConfig(Strict):
    root: str | None = Field(
        None,
        description="Lake root (local path or Hadoop URI). Default: $BOTWATCH_LAKE or "
        "<project home>/lake.",
    )


class AirflowConfig(Strict):
    """How the DAG runs its Spark jobs; the Spark side never reads this."""

    conn_id: str = Field(
        "spark_default", description="Airflow Spark connection (master, deploy mode)."
    )
    owner: str = "botwatch"
    retries: int = Field(
        1, ge=0, le=10, description="Retries of every stage but validate (never retried)."
    )
    retry_delay_minutes: float = Field(5, ge=0)
    max_active_runs: int = Field(
        1, ge=1, description="Runs in parallel; training reads earlier runs' output."
    )
    py_files: str | None = Field(
        None, description="Comma-separated zips/eggs shipped with each job (cluster deploys)."
    )
    execution_timeout_minutes: float | None = Field(None, gt=0)


class UseCase(ProjectBound):
    """One use case: its schedule, its logs, how they are scored and where alerts go.

    Relative paths resolve against ``home``, the project home ``load_usecase`` found for the
    file (see ``spark_jobs.config.paths``).
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")
    description: str = Field(min_length=1)
    schedule: str = "0 0 * * *"
    timezone: str = "UTC"
    start_date: datetime
    end_date: datetime | None = None
    catchup: bool = False
    tags: list[str] = Field(default_factory=list)
    source: SourceConfig
    entity: EntityConfig = Field(default_factory=EntityConfig)
    features: list[str] = Field(min_length=2)
    model: ModelConfig = Field(default_factory=ModelConfig)
    threshold: float = Field(95.0, ge=0.0, le=100.0)
    when: str | None = Field(
        None,
        description="Which sessions the use case is about, e.g. `status_404_share >= 0.2 and "
        "night_share >= 0.5` (config.conditions): the others are scored and counted, never "
        "alerted.",
    )
    alert: AlertConfig = Field(default_factory=AlertConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    spark: dict[str, str] = Field(default_factory=dict, description="Spark conf overrides.")
    storage: StorageConfig = Field(default_factory=StorageConfig)
    airflow: AirflowConfig = Field(default_factory=AirflowConfig)

    @field_validator("schedule")
    @classmethod
    def _cron_has_five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"must be a 5-field cron expression, got {value!r}")
        try:  # croniter comes with Airflow; the Spark side may run without it
            from croniter import croniter
        except ImportError:
            return value
        if not croniter.is_valid(value):
            raise ValueError(f"invalid cron expression {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("features")
    @classmethod
    def _known_features(cls, value: list[str]) -> list[str]:
        labels = [name for name in value if name in WEAK_LABELS]
        if labels:
            raise ValueError(
                f"{labels[0]} is a weak label on purpose, not a feature: it says what a client "
                "calls itself, so a model fed it would only find the bots that say so; use "
                "model.weak_labels: true to train on it (docs/features.md)"
            )
        unknown = [name for name in value if name not in KNOWN_FEATURES]
        if unknown:
            close = difflib.get_close_matches(unknown[0], KNOWN_FEATURES, n=1, cutoff=0.6)
            mean = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(
                f"unknown feature {', '.join(map(repr, unknown))}; {mean}the "
                f"{len(KNOWN_FEATURES)} features are listed in docs/features.md"
            )
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once")
        return value

    @field_validator("spark")
    @classmethod
    def _spark_keys(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [key for key in value if not key.startswith("spark.")]
        if bad:
            raise ValueError(f"Spark conf keys must start with 'spark.': {bad}")
        return {key: str(val) for key, val in value.items()}

    @field_validator("when")
    @classmethod
    def _condition(cls, value: str | None) -> str | None:
        if value is not None:
            parse(value)  # ConditionError is a ValueError: file, key `when` and the reason
        return value

    @field_validator("end_date")
    @classmethod
    def _after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("start_date")
        if value is not None and start is not None and _utc(value) <= _utc(start):
            raise ValueError(f"must be after start_date ({start:%Y-%m-%d %H:%M})")
        return value

    def condition(self) -> Condition | None:
        """The parsed ``when:`` (checked at load time), or None: every session is in scope."""
        return None if self.when is None else parse(self.when)

    def resolve(self, path: str) -> str:
        """A path of this use case: env references expanded, relative to the project home."""
        return paths.resolve_path(path, self.home)

    def lake_root(self) -> str:
        return paths.lake_root(self.storage.root, self.home)

    def expectations_dir(self) -> Path:
        """The folder of the quality suites (``$BOTWATCH_EXPECTATIONS_DIR`` wins)."""
        return paths.expectations_dir(self.home)

    def source_glob(self, start: datetime, end: datetime) -> str:
        """The source glob for one data interval, with env references and dates filled in."""
        return self.resolve(paths.fill_bounds(paths.expand_env(self.source.path), start, end))

    def source_globs(self, start: datetime, end: datetime) -> list[str]:
        """One glob per hour / day the interval covers when the path uses {hour:}/{day:}."""
        each = paths.interval_paths(paths.expand_env(self.source.path), start, end)
        return [self.resolve(path) for path in each]

    def source_glob_all(self) -> str:
        """The source glob for every interval at once (date placeholders become ``*``)."""
        return self.resolve(paths.any_interval(paths.expand_env(self.source.path)))
