"""The ``model:`` section of a use case: which scorers are fit, and the labels a classifier uses.

Each vocabulary (member names, classifiers, label file formats...) is one ``Literal`` type, and
the tuple code iterates over is derived from it with ``typing.get_args``, so the schema and the
code that dispatches on the names cannot drift apart. Pure pydantic: the DAG factory validates
configs at parse time without Spark.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from spark_jobs.config.base import ProjectBound, Strict
from spark_jobs.config.paths import resolve_path

#: Unsupervised: an ensemble of anomaly scorers; supervised: a classifier trained on labels;
#: pretrained: the general model shipped with botwatch, blended with a local classifier.
ModelKind = Literal["unsupervised", "supervised", "pretrained"]
MODEL_KINDS: tuple[ModelKind, ...] = get_args(ModelKind)
#: Which sessions an unsupervised ensemble is fit on.
FitOn = Literal["all", "human"]
#: What an unsupervised score is a percentile of: the training sessions, or the most unusual
#: session of each training interval (``models.anomaly.calibration``).
Calibration = Literal["sessions", "interval_max"]
CALIBRATIONS: tuple[Calibration, ...] = get_args(Calibration)
#: The anomaly scorers an unsupervised ensemble can average.
Member = Literal["kmeans", "bisecting_kmeans", "gmm", "robust_z"]
MODEL_MEMBERS: tuple[Member, ...] = get_args(Member)
#: Members that score by the distance to the nearest cluster centre (fit and loaded alike).
CENTROID_MEMBERS: tuple[Member, ...] = ("kmeans", "bisecting_kmeans")
#: The classifiers of a supervised model.
Algorithm = Literal["gbt", "random_forest", "logistic_regression"]
ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)
#: How a label file is read.
LabelFormat = Literal["csv", "parquet", "whitespace"]
LABEL_FORMATS: tuple[LabelFormat, ...] = get_args(LabelFormat)
#: What a label file's keys name.
LabelMatch = Literal["entity", "session"]
LABEL_MATCHES: tuple[LabelMatch, ...] = get_args(LabelMatch)


class LabelSource(ProjectBound):
    """A file that says which entities or sessions are bots, for supervised training."""

    path: str = Field(description="CSV, Parquet or whitespace-separated text; globs allowed.")
    format: LabelFormat = Field(
        "csv", description="whitespace: two columns '<key> <label>' per line, no header."
    )
    key_column: str = Field("key", description="Column naming the entity or session (csv/parquet).")
    label_column: str = Field("label", description="Column holding the label (csv/parquet).")
    match: LabelMatch = Field(
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
        """The label file(s), a relative path taken relative to the project home."""
        return resolve_path(self.path, self.home)


class ModelConfig(Strict):
    """Unsupervised: an ensemble of anomaly scorers. Supervised: a classifier from labels."""

    kind: ModelKind = "unsupervised"
    members: list[Member] = Field(
        default_factory=lambda: list(MODEL_MEMBERS),
        min_length=1,
        description="Unsupervised scorers averaged into the ensemble score.",
    )
    k: int = Field(
        8, ge=2, le=200, description="Clusters of kmeans / bisecting_kmeans / gmm (at least 2)."
    )
    algorithm: Algorithm = Field("gbt", description="Supervised classifier.")
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

    pretrained: str = Field(
        "general-v1",
        description="pretrained: which shipped general model scores (models/general/data/).",
    )
    fit_on: FitOn = Field(
        "all",
        description="unsupervised: fit on every session (all), or only on those the shipped "
        "general model (pretrained) judges human (bot probability < 0.5), so that normal "
        "means human behaviour rather than whatever the majority of sessions does.",
    )
    calibration: Calibration = Field(
        "sessions",
        description="unsupervised: sessions: score 95 = more unusual than 95% of the training "
        "sessions (every interval has its top 5%); interval_max: score 95 = more unusual than "
        "the most unusual session of 95% of the training intervals, so a quiet interval "
        "raises nothing (docs/alerts.md, 'Scores that allow a quiet day').",
    )
    blend_min_labels: int = Field(
        50,
        ge=1,
        description="pretrained with labels: fewest labelled sessions of the smaller class "
        "before a local classifier is fit and blended in.",
    )
    blend_half_at: int = Field(
        500,
        ge=1,
        description="pretrained with labels: the local model's weight is n / (n + this), n "
        "the labelled sessions of the smaller class.",
    )

    @field_validator("pretrained")
    @classmethod
    def _shipped(cls, value: str) -> str:
        from spark_jobs.models.general import registry

        if value not in registry.available():
            raise ValueError(f"no shipped general model {value!r}; shipped: "
                             f"{', '.join(registry.available()) or 'none'}")  # fmt: skip
        return value

    @field_validator("members")
    @classmethod
    def _distinct_members(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("members are listed more than once")
        return value

    @model_validator(mode="after")
    def _calibration_is_unsupervised(self) -> ModelConfig:
        if self.calibration != "sessions" and self.kind != "unsupervised":
            raise ValueError(
                f"calibration: {self.calibration} applies to the unsupervised ensemble; "
                f"{self.kind} scores are already bot probabilities x 100"
            )
        return self

    @model_validator(mode="after")
    def _supervised_has_labels(self) -> ModelConfig:
        if self.kind == "supervised" and self.labels is None and not self.weak_labels:
            raise ValueError("a supervised model needs labels (a label file) or weak_labels: true")
        return self
