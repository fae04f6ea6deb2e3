"""The one typed schema for use-case YAML, shared by the DAG factory and the Spark jobs.

Both sides import this module, so it must stay light: pydantic and PyYAML only (no Spark, no
Airflow). Unknown keys are rejected everywhere so that a typo in a config is an error naming the
file and key, not a silently ignored setting.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from spark_jobs.config.alerts import AlertConfig
from spark_jobs.config.source import SourceConfig, known_zone
from spark_jobs.errors import ConfigError
from spark_jobs.features.catalog import FEATURE_NAMES

#: Where the repository lives; relative paths in configs are resolved against it.
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULTS_FILE = "_defaults.yaml"

#: Feature names the feature stage knows (defined in ``feature_catalog``, which has no Spark
#: import, so configs are validated at DAG-parse time).
KNOWN_FEATURES = FEATURE_NAMES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntityConfig(_Strict):
    """Who a scored row belongs to, and how their requests are cut into sessions."""

    key: Literal["client", "client_user_agent", "session_id"] = Field(
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


MODEL_MEMBERS = ("kmeans", "bisecting_kmeans", "gmm", "robust_z")
ALGORITHMS = ("gbt", "random_forest", "logistic_regression")


class LabelSource(_Strict):
    """A file that says which entities or sessions are bots, for supervised training."""

    path: str = Field(description="CSV, Parquet or whitespace-separated text; globs allowed.")
    format: Literal["csv", "parquet", "whitespace"] = Field(
        "csv", description="whitespace: two columns '<key> <label>' per line, no header."
    )
    key_column: str = Field("key", description="Column naming the entity or session (csv/parquet).")
    label_column: str = Field("label", description="Column holding the label (csv/parquet).")
    match: Literal["entity", "session"] = Field(
        "entity",
        description="entity: keys are entities (client, session id...), every session of a "
        "labelled entity gets its label; session: keys are the features' session column.",
    )
    key_suffix_pattern: str | None = Field(
        None,
        description="Regex removed from the end of each key before matching, e.g. '_[0-9]+$'.",
    )
    positive: list[str] = Field(
        default_factory=lambda: ["bot"], min_length=1, description="Label values that mean bot."
    )
    negative: list[str] | None = Field(
        None, description="Label values that mean not a bot; null: every other value."
    )

    @field_validator("key_suffix_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regex: {exc}") from None
        return value

    def resolved_path(self) -> str:
        return resolve_path(self.path)


class ModelConfig(_Strict):
    """Unsupervised: an ensemble of anomaly scorers. Supervised: a classifier from labels."""

    kind: Literal["unsupervised", "supervised"] = "unsupervised"
    members: list[Literal["kmeans", "bisecting_kmeans", "gmm", "robust_z"]] = Field(
        default_factory=lambda: list(MODEL_MEMBERS),
        min_length=1,
        description="Unsupervised scorers averaged into the ensemble score.",
    )
    k: int = Field(
        8, ge=2, le=200, description="Clusters of kmeans / bisecting_kmeans / gmm (at least 2)."
    )
    algorithm: Literal["gbt", "random_forest", "logistic_regression"] = Field(
        "gbt", description="Supervised classifier."
    )
    labels: LabelSource | None = Field(None, description="Label file (supervised).")
    weak_labels: bool = Field(
        False,
        description="Supervised: sessions whose User-Agent is a self-declared crawler count as "
        "bots, the rest as not (combined with labels when both are given: the file wins).",
    )
    max_iter: int = Field(30, ge=1, le=1000)
    seed: int = 42
    training_window_days: int = Field(
        7,
        ge=1,
        le=366,
        description="Trailing days of features (ending at the interval's end) to fit on.",
    )
    retrain_every_days: float = Field(
        1,
        ge=0,
        description="Train skips when the champion is younger than this (0: retrain every run).",
    )

    @field_validator("members")
    @classmethod
    def _distinct_members(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("members are listed more than once")
        return value

    @model_validator(mode="after")
    def _supervised_has_labels(self) -> ModelConfig:
        if self.kind == "supervised" and self.labels is None and not self.weak_labels:
            raise ValueError("a supervised model needs labels (a label file) or weak_labels: true")
        return self


class QualityConfig(_Strict):
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
    def _suites_exist(cls, value: list[str]) -> list[str]:
        """Catch a misspelt suite when the DAG is parsed, not when validate runs."""
        folder = expectations_dir()
        if folder.is_dir():  # a cluster driver may run without the repo's folder
            missing = [name for name in value if not (folder / f"{name}.json").is_file()]
            if missing:
                raise ValueError(f"no suite file {folder}/<name>.json for {missing}")
        return value


class StorageConfig(_Strict):
    root: str | None = Field(
        None, description="Lake root (local path or Hadoop URI). Default: $BOTWATCH_LAKE or ./lake."
    )


class AirflowConfig(_Strict):
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


class UseCase(_Strict):
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
        unknown = [name for name in value if name not in KNOWN_FEATURES]
        if unknown:
            raise ValueError(f"unknown feature(s) {unknown}; known: {', '.join(KNOWN_FEATURES)}")
        if len(set(value)) != len(value):
            raise ValueError("features are listed more than once")
        return value

    @field_validator("spark")
    @classmethod
    def _spark_keys(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [key for key in value if not key.startswith("spark.")]
        if bad:
            raise ValueError(f"Spark conf keys must start with 'spark.': {bad}")
        return {key: str(val) for key, val in value.items()}

    @model_validator(mode="after")
    def _dates_in_order(self) -> UseCase:
        if self.end_date is not None and self.end_date <= self.start_date:
            raise ValueError("end_date must be after start_date")
        return self

    def lake_root(self) -> str:
        root = self.storage.root or os.environ.get("BOTWATCH_LAKE") or str(REPO_ROOT / "lake")
        return resolve_path(root)

    def source_glob(self, start: datetime, end: datetime) -> str:
        """The source glob for one data interval, with env references and dates filled in."""
        return self._fill_bounds(expand_env(self.source.path), start, end)

    @staticmethod
    def _fill_bounds(path: str, start: datetime, end: datetime) -> str:
        bounds = {"start": start, "end": end}
        filled = _DATE_REF.sub(lambda m: bounds[m.group("which")].strftime(m.group("fmt")), path)
        return resolve_path(filled)

    def source_globs(self, start: datetime, end: datetime) -> list[str]:
        """One glob per hour / day the interval covers when the path uses {hour:}/{day:}."""
        path = expand_env(self.source.path)
        steps = {m.group("unit") for m in _EACH_REF.finditer(path)}
        if not steps:
            return [self.source_glob(start, end)]
        step = timedelta(hours=1) if "hour" in steps else timedelta(days=1)
        moment = start.replace(minute=0, second=0, microsecond=0)
        if step == timedelta(days=1):
            moment = moment.replace(hour=0)
        globs: list[str] = []
        while moment < end:
            filled = _EACH_REF.sub(lambda m, t=moment: t.strftime(m.group("fmt")), path)
            glob = self._fill_bounds(filled, start, end)
            if glob not in globs:
                globs.append(glob)
            moment += step
        return globs

    def source_glob_all(self) -> str:
        """The source glob for every interval at once (date placeholders become ``*``)."""
        path = _EACH_REF.sub("*", expand_env(self.source.path))
        return resolve_path(_DATE_REF.sub("*", path))


def expectations_dir() -> Path:
    """Where Great Expectations suites live; the env override lets a deployment ship its own."""
    return Path(os.environ.get("BOTWATCH_EXPECTATIONS_DIR") or REPO_ROOT / "expectations")


#: ``{start:%Y-%m-%d}`` placeholders; other braces (Hadoop ``{a,b}`` globs) are left alone.
_DATE_REF = re.compile(r"\{(?P<which>start|end):(?P<fmt>[^}]*)\}")
_EACH_REF = re.compile(r"\{(?P<unit>hour|day):(?P<fmt>[^}]*)\}")
_ENV_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def expand_env(text: str) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}``; an unset VAR without default is an error."""

    def _sub(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        value = os.environ.get(name)
        if value:
            return value
        if default is not None:
            return default
        raise ValueError(f"environment variable {name} is not set and has no default")

    return _ENV_REF.sub(_sub, text)


def resolve_path(path: str) -> str:
    """Expand env references; make plain relative paths relative to the repository root."""
    path = expand_env(path)
    if "://" in path or os.path.isabs(path):
        return path
    return str(REPO_ROOT / path)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where} invalid YAML: {reason}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def merged_config_dict(path: Path) -> dict[str, Any]:
    """The config as the jobs see it: ``_defaults.yaml`` of the same folder merged under it."""
    path = Path(path)
    defaults_path = path.parent / DEFAULTS_FILE
    defaults = _read_yaml(defaults_path) if defaults_path.exists() else {}
    return _deep_merge(defaults, _read_yaml(path))


def _format_error(path: Path, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown key"
        elif err["type"] == "missing":
            reason = "required key is missing"
        parts.append(f"{key}: {reason}")
    return f"{path}: " + "; ".join(parts)


def load_usecase(path: str | os.PathLike[str]) -> UseCase:
    """Read and validate one use-case file; raise ConfigError with file, key and reason."""
    path = Path(path)
    try:
        usecase = UseCase.model_validate(merged_config_dict(path))
    except ValidationError as exc:
        raise ConfigError(_format_error(path, exc)) from None
    return usecase


def config_files(config_dir: str | os.PathLike[str]) -> list[Path]:
    """Use-case files of a folder: every *.yaml / *.yml except files starting with '_'."""
    folder = Path(config_dir)
    files = [*folder.glob("*.yaml"), *folder.glob("*.yml")]
    return sorted(p for p in files if not p.name.startswith(("_", ".")))


def load_all(config_dir: str | os.PathLike[str]) -> tuple[list[tuple[Path, UseCase]], list[str]]:
    """All use cases of a folder: the valid ones, and one error line per invalid file."""
    good: list[tuple[Path, UseCase]] = []
    errors: list[str] = []
    seen: dict[str, Path] = {}
    for path in config_files(config_dir):
        try:
            usecase = load_usecase(path)
        except ConfigError as exc:
            errors.append(str(exc))
            continue
        if usecase.id in seen:
            errors.append(f"{path}: id: {usecase.id!r} is already used by {seen[usecase.id]}")
            continue
        seen[usecase.id] = path
        good.append((path, usecase))
    return good, errors
