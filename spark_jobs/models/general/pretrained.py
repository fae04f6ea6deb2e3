"""``model.kind: pretrained``: score with the shipped general model, and learn the site as it goes.

With no labels at all, the score is the general model's bot probability in per cent: a use case
on a site never seen before needs no training data (the train stage still runs, to record the
version and the site's feature profile that explanations compare with).

With ``weak_labels: true`` or a label file, the train stage also fits the use case's own
classifier (``algorithm``, its ``features``) on the window's labelled sessions, once both classes
have at least ``blend_min_labels`` sessions, and the score becomes

    100 * ((1 - w) * p_general + w * p_local),    w = n / (n + blend_half_at)

with ``n`` the labelled sessions of the smaller class: a handful of local labels barely moves
the general model; at ``blend_half_at`` each counts half; with many, the site's own model leads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.config.model import ModelConfig
from spark_jobs.lake import storage
from spark_jobs.models import explain
from spark_jobs.models.general import registry

GENERAL_COL = "_gm"
WEIGHTS_COL = "_gm_weights"
METADATA_FILE = "model.json"
LOCAL_DIR = "local"
PREDICTION_SCHEMA = "p double, weights array<double>"


def blend_weight(smaller_class: int, cfg: ModelConfig) -> float:
    """The local model's share of the score (the module docstring's rule)."""
    if smaller_class < cfg.blend_min_labels:
        return 0.0
    return smaller_class / (smaller_class + cfg.blend_half_at)


def with_general_prediction(df: DataFrame, name: str) -> DataFrame:
    """Add ``_gm`` (struct: ``p``, the bot probability; ``weights``, the features' positive
    contributions) from the shipped model ``name``, in a vectorised UDF on the executors."""
    import pandas as pd

    features = registry.load(name).features

    def predicted(rows):
        forest = registry.load(name)
        p, contributions = forest.predict(forest.matrix({f: rows[f] for f in features}))
        return pd.DataFrame({"p": p, "weights": list(contributions.clip(min=0.0))})

    # pandas_udf reads its kind from type hints: given as objects (this module's are strings).
    predicted.__annotations__ = {"rows": pd.DataFrame, "return": pd.DataFrame}
    inputs = F.struct(*[F.col(f).cast("double").alias(f) for f in features])
    return df.withColumn(GENERAL_COL, F.pandas_udf(predicted, PREDICTION_SCHEMA)(inputs))


def judged_human(df: DataFrame, name: str) -> DataFrame:
    """The rows of ``df`` the shipped model ``name`` gives a bot probability below 0.5: the
    population an anomaly ensemble with ``fit_on: human`` learns as normal. An analyst's
    verdict (``verdict_label``) overrules the model: a true positive is left out, a false
    positive kept in."""
    from spark_jobs.models.labels import VERDICT_LABEL

    judged = with_general_prediction(df, name)
    human = F.col(GENERAL_COL)["p"] < 0.5
    if VERDICT_LABEL in df.columns:
        human = F.coalesce(F.col(VERDICT_LABEL) == 0.0, human)
    return judged.where(human).drop(GENERAL_COL)


@dataclass
class PretrainedModel:
    """The shipped model's name, the site's profile, and the optional local model + weight."""

    name: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    profile: dict[str, Any]
    local: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        return registry.load(self.name).features

    def score(self, df: DataFrame) -> DataFrame:
        """``df`` plus ``score``, ``details`` (general and local probabilities, the weight)
        and ``contributions`` (the general model's, against this site's training profile)."""
        w = float(self.params["local_weight"])
        scored = with_general_prediction(df, self.name)
        p_general = F.col(GENERAL_COL)["p"]
        details = [F.lit("general_probability"), p_general, F.lit("local_weight"), F.lit(w)]
        p = p_general
        if self.local is not None and w > 0:
            scored = self.local.score(scored).withColumnRenamed("score", "_local_score")
            p_local = F.col("_local_score") / 100.0
            p = (1.0 - w) * p_general + w * p_local
            details += [F.lit("local_probability"), p_local]
            scored = scored.drop("details", "contributions")
        scored = scored.withColumns(
            {
                "score": F.least(F.greatest(100.0 * p, F.lit(0.0)), F.lit(100.0)),
                "details": F.create_map(*details),
                WEIGHTS_COL: F.col(GENERAL_COL)["weights"],
            }
        ).drop(GENERAL_COL, "_local_score")
        return explain.with_contributions(scored, list(self.features), self.profile, WEIGHTS_COL)

    def save(self, spark: Any, path: str) -> None:
        """``path/model.json`` (and ``path/local/`` when there is a local model)."""
        if self.local is not None:
            self.local.save(spark, f"{path}/{LOCAL_DIR}")
        doc = {"kind": "pretrained", "name": self.name, "params": self.params,
               "metrics": self.metrics, "profile": self.profile}  # fmt: skip
        storage.write_json(spark, f"{path}/{METADATA_FILE}", doc)


def _local_model(df: DataFrame, features: Sequence[str], cfg: ModelConfig):
    """(local classifier or None, weight, label counts) from the window's labelled sessions."""
    from spark_jobs.models import labels
    from spark_jobs.models.supervised import classifier

    if cfg.labels is None and not cfg.weak_labels and labels.VERDICT_LABEL not in df.columns:
        return None, 0.0, {}
    labelled, summary = labels.training_labels(df.sparkSession, df, cfg)
    weight = blend_weight(min(summary["positives"], summary["negatives"]), cfg)
    if weight == 0.0:
        return None, 0.0, summary
    return classifier.fit(labelled, features, cfg), weight, summary


def fit(df: DataFrame, features: Sequence[str], cfg: ModelConfig) -> PretrainedModel:
    """Nothing of the general model is fit: the site's profile of its features (what
    explanations compare with) and, with labels, the local model and its weight."""
    forest = registry.load(cfg.pretrained)
    local, weight, summary = _local_model(df, features, cfg)
    params = {"pretrained": cfg.pretrained, "trained": forest.card.get("trained"),
              "local_weight": weight, "blend_min_labels": cfg.blend_min_labels,
              "blend_half_at": cfg.blend_half_at}  # fmt: skip
    metrics = {"sessions": df.count(), "local_labels": summary,
               "general_out_of_site": {k: {m: v.get(m) for m in ("pr_auc", "roc_auc")}
                                       for k, v in forest.card.get("out_of_site", {}).items()}}  # fmt: skip
    profile = explain.feature_profile(df, forest.features)
    return PretrainedModel(cfg.pretrained, params, metrics, profile, local)


def load(spark: Any, path: str) -> PretrainedModel:
    from spark_jobs.models.supervised import classifier

    doc = storage.read_json(spark, f"{path}/{METADATA_FILE}")
    local = None
    if doc["params"]["local_weight"] > 0:
        local = classifier.load(spark, f"{path}/{LOCAL_DIR}")
    return PretrainedModel(doc["name"], doc["params"], doc["metrics"], doc["profile"], local)
