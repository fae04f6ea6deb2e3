"""What a model kind is, and which kinds exist: the one place that knows ``model.kind``.

The train and score stages, the registry and ``botwatch eval`` work on any kind through
``MODEL_KINDS[cfg.model.kind]``; none of them branches on the kind's name or looks at which
columns a model happened to add. A new kind is a new entry here and nothing else.

The agreed output of ``FittedModel.score``: the input's columns plus ``SCORED_COLUMNS``:

* ``score``: double, 0-100, higher is more bot-like (what the threshold and alerts read);
* ``details``: map<string, double>, the kind's own numbers behind ``score`` (each ensemble
  member's percentile, the classifier's raw probability): one type for every kind, so score
  tables of different kinds union and old partitions stay readable;
* ``contributions``: ``explain.CONTRIBUTIONS_TYPE``, the features that weigh most in this row.

The kinds' modules import Spark ML, so they are imported when a kind is first used: looking a
kind up (config checks, CLI start-up) stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from spark_jobs.config.usecase import ModelConfig

#: Columns every kind's ``score`` adds to its input, in this order.
SCORED_COLUMNS = ("score", "details", "contributions")


class FittedModel(Protocol):
    """A fitted model of some kind; ``params`` / ``metrics`` are JSON for the version's metadata."""

    params: dict[str, Any]
    metrics: dict[str, Any]

    def score(self, df: DataFrame) -> DataFrame:
        """``df`` plus ``SCORED_COLUMNS``; works on any DataFrame holding the features."""
        ...

    def save(self, spark: Any, path: str) -> None:
        """Replace the folder ``path`` with what ``ModelKind.load`` reads back."""
        ...


class ModelKind(Protocol):
    """How to fit and load one ``model.kind``, and what the stages need to know about it."""

    #: The ``model.kind`` value this entry serves.
    name: str
    #: True: fit only on labelled sessions (``label`` column); False: on every session, labels
    #: (if any) are for evaluation only.
    learns_from_labels: bool

    def uses_verdicts(self, cfg: ModelConfig) -> bool:
        """True when analysts' verdicts (``verdict_label``, ``models.labels``) shape the fit, so
        the train stage adds them to the window's sessions and counts them."""
        ...

    def algorithm(self, cfg: ModelConfig) -> str:
        """Short name of what is fit, for version names (``supervised-gbt-...``)."""
        ...

    def describe(self, cfg: ModelConfig) -> str:
        """What ``botwatch eval`` calls this variant in its report (algorithm or members)."""
        ...

    def fit(self, df: DataFrame, features: Sequence[str], cfg: ModelConfig) -> FittedModel:
        """Fit on ``df`` (with ``label`` when ``learns_from_labels``); StageFailed when the data
        cannot support a model."""
        ...

    def load(self, spark: Any, path: str) -> FittedModel:
        """Read a model written by its ``save`` at ``path``, in any process."""
        ...


class _Unsupervised:
    """The anomaly ensemble (``models.anomaly.ensemble``)."""

    name = "unsupervised"
    learns_from_labels = False

    def uses_verdicts(self, cfg: ModelConfig) -> bool:
        # True positives leave the set "normal" is learnt from (all sessions, or the human
        # ones); with fit_on: human false positives join it.
        return True

    def algorithm(self, cfg: ModelConfig) -> str:
        return "ensemble"

    def describe(self, cfg: ModelConfig) -> str:
        members = "+".join(cfg.members)
        return f"{members}, fit on humans ({cfg.pretrained})" if cfg.fit_on == "human" else members

    def fit(self, df: DataFrame, features: Sequence[str], cfg: ModelConfig) -> FittedModel:
        from spark_jobs.models.anomaly import ensemble

        if cfg.fit_on == "human":
            from spark_jobs.models.general.pretrained import judged_human

            df = judged_human(df, cfg.pretrained)
        else:
            from spark_jobs.models.labels import without_confirmed_bots

            df = without_confirmed_bots(df)
        return ensemble.fit(df, features, cfg)

    def load(self, spark: Any, path: str) -> FittedModel:
        from spark_jobs.models.anomaly import ensemble

        return ensemble.load(spark, path)


class _Supervised:
    """A classifier learnt from labels (``models.supervised.classifier``)."""

    name = "supervised"
    learns_from_labels = True

    def uses_verdicts(self, cfg: ModelConfig) -> bool:
        return True

    def algorithm(self, cfg: ModelConfig) -> str:
        return cfg.algorithm

    def describe(self, cfg: ModelConfig) -> str:
        return cfg.algorithm

    def fit(self, df: DataFrame, features: Sequence[str], cfg: ModelConfig) -> FittedModel:
        from spark_jobs.models.supervised import classifier

        return classifier.fit(df, features, cfg)

    def load(self, spark: Any, path: str) -> FittedModel:
        from spark_jobs.models.supervised import classifier

        return classifier.load(spark, path)


class _Pretrained:
    """The shipped general model, blended with a local classifier once the site has labels
    (``models.general.pretrained``); it reads the labels itself, so the train stage gives it
    every session of the window."""

    name = "pretrained"
    learns_from_labels = False

    def uses_verdicts(self, cfg: ModelConfig) -> bool:
        return True  # as labels of the local classifier

    def algorithm(self, cfg: ModelConfig) -> str:
        return cfg.pretrained

    def describe(self, cfg: ModelConfig) -> str:
        return cfg.pretrained

    def fit(self, df: DataFrame, features: Sequence[str], cfg: ModelConfig) -> FittedModel:
        from spark_jobs.models.general import pretrained

        return pretrained.fit(df, features, cfg)

    def load(self, spark: Any, path: str) -> FittedModel:
        from spark_jobs.models.general import pretrained

        return pretrained.load(spark, path)


MODEL_KINDS: dict[str, ModelKind] = {
    kind.name: kind for kind in (_Unsupervised(), _Supervised(), _Pretrained())
}


def model_kind(kind: str) -> ModelKind:
    """The entry for ``kind``; a ValueError naming the known kinds otherwise (a model written
    by a newer botwatch, or a hand-edited metadata.json)."""
    try:
        return MODEL_KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(MODEL_KINDS))
        raise ValueError(f"unknown model kind {kind!r}; known kinds: {known}") from None
