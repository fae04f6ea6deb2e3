"""The unsupervised model: an ensemble of anomaly scorers, calibrated and explained.

A session is anomalous when it is unlike the sessions of the training window. Several members
(``anomaly_members``, ``anomaly_gmm``) measure "unlike" differently: distance to the nearest
KMeans or BisectingKMeans centre, density under a Gaussian mixture, robust z-scores. Their raw
measures have incomparable units, so each is turned into its percentile among the training
sessions' own measures; the ensemble's raw score is the mean of those percentiles, and the
published ``score`` is again that mean's percentile among the training sessions. ``score`` 95
thus means "more anomalous than 95 % of the sessions the model was fitted on", whatever the
features or members, and it can only rise when any member's measure rises.

Preprocessing (log1p so heavy-tailed counts do not dominate, nulls and negatives as 0,
standardisation so every feature weighs the same) is saved as a PipelineModel of stock Spark ML
stages (``inputs.FittedScaling``, which keeps each fitted stage by name),
and the members' own Spark models are saved with their writers, so a saved model loads in any
process with plain pyspark; everything else is JSON. Scoring is Spark SQL with the fitted
numbers inlined (``anomaly_sql``): no Python UDF.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.config.model import ModelConfig
from spark_jobs.errors import StageFailed
from spark_jobs.lake import storage
from spark_jobs.models import explain
from spark_jobs.models.anomaly import calibration, gmm
from spark_jobs.models.anomaly.calibration import persisted
from spark_jobs.models.anomaly.member_registry import fit_member, load_member
from spark_jobs.models.anomaly.members import (
    SCALED,
    Member,
    log_col,
    raw_col,
    term_col,
    z_col,
)
from spark_jobs.models.anomaly.sql import (
    ENSEMBLE_RAW,
    PREFIX,
    num,
    quote,
    total,
    with_layer,
    with_percentile,
)
from spark_jobs.models.inputs import FittedScaling, clean, fit_log_scaling

log = logging.getLogger("botwatch")

VECTOR = PREFIX + "vector"
N_QUANTILES = 1001
#: Up to this many rows the calibration quantiles are exact; above, relative error 1e-4.
EXACT_QUANTILE_ROWS = 200_000
FORMAT_VERSION = 1
#: Columns ``score`` adds to its input: ``models.kinds.SCORED_COLUMNS``, spelled out because
#: kinds imports this module (tests/models/test_kinds.py holds the two together).
OUTPUT_COLUMNS = ("score", "details", "contributions")


def _pct_col(member: str) -> str:
    return f"{PREFIX}{member}_pct"


SCORE_PCT, WEIGHTS = PREFIX + "score", PREFIX + "weights"


def fit_preprocessing(data: DataFrame, features: Sequence[str]) -> FittedScaling:
    """log1p -> assemble -> standardise (sample std; a constant feature becomes 0)."""
    log_cols = [log_col(j) for j in range(len(features))]
    return fit_log_scaling(data, features, log_cols, VECTOR, SCALED)


def _standardised(j: int, mean: float, std: float) -> str:
    """StandardScaler's arithmetic (times 1/std; 0 for a constant feature). Never null, and
    the coalesce says so, which keeps null checks out of the members' generated code."""
    return f"coalesce(({quote(log_col(j))} - {num(mean)}) * {num(1.0 / std if std else 0.0)}, 0D)"


@dataclass
class AnomalyModel:
    """A fitted ensemble; ``score`` works on any DataFrame holding the ``features`` columns."""

    features: list[str]
    preprocess: FittedScaling
    members: list[Member]
    #: Per member, the N_QUANTILES quantiles of the training sessions' raw measures.
    member_quantiles: dict[str, list[float]]
    #: The same for the ensemble's raw score (mean of member percentiles).
    ensemble_quantiles: list[float]
    #: explain.feature_profile of the training sessions (raw values).
    profile: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: ``calibration: interval_max``: each training interval's top ensemble raw score, sorted.
    interval_maxima: list[float] = field(default_factory=list)

    def _published_quantiles(self) -> list[float]:
        """What ``score`` is the percentile of (``models.anomaly.calibration``)."""
        if self.params.get("calibration") == "interval_max":
            return self.interval_maxima
        return self.ensemble_quantiles

    def _with_raw(self, df: DataFrame) -> DataFrame:
        """Only the log1p stage runs here: standardisation is redone in SQL from the scaler's
        mean and std, one column per feature, which the members' arithmetic reads directly."""
        return self._measure(self.preprocess.log1p.transform(df))

    def _measure(self, logs: DataFrame) -> DataFrame:
        scaler = self.preprocess.scaler
        stats = zip(scaler.mean.toArray(), scaler.std.toArray(), strict=True)
        out = with_layer(logs, {z_col(j): _standardised(j, m, s) for j, (m, s) in enumerate(stats)})
        for member in self.members:
            out = member.with_measure(out)
        return out

    def _with_ensemble(self, df: DataFrame) -> DataFrame:
        for m in self.members:
            df = with_percentile(
                df, raw_col(m.name), self.member_quantiles[m.name], _pct_col(m.name)
            )
        mean = total(quote(_pct_col(m.name)) for m in self.members)
        return with_layer(df, {ENSEMBLE_RAW: f"{mean} / {num(len(self.members))}"})

    def _with_weights(self, df: DataFrame) -> DataFrame:
        """``WEIGHTS``: per feature, the mean over members of the feature's share of the
        member's terms (a member whose terms are all 0 adds 0)."""
        n, whole = len(self.features), {m.name: f"{PREFIX}{m.name}_whole" for m in self.members}
        df = with_layer(
            df,
            {
                whole[m.name]: total(quote(term_col(m.name, j)) for j in range(n))
                for m in self.members
            },
        )
        shares = []
        for j in range(n):
            parts = [
                f"CASE WHEN {quote(whole[m.name])} > 0D "
                f"THEN {quote(term_col(m.name, j))} / {quote(whole[m.name])} ELSE 0D END"
                for m in self.members
            ]
            shares.append(f"{total(parts)} / {num(len(self.members))}")
        return with_layer(df, {WEIGHTS: f"array({', '.join(shares)})"})

    def raw_measures(self, df: DataFrame) -> DataFrame:
        """``df`` with ``raw_measures``: each member's raw anomaly measure (for diagnostics)."""
        pairs = ", ".join(f"'{m.name}', {quote(raw_col(m.name))}" for m in self.members)
        return self._with_raw(df).selectExpr(
            *map(quote, df.columns), f"map({pairs}) AS raw_measures"
        )

    def score(self, df: DataFrame) -> DataFrame:
        """``df`` with ``score`` (0-100), ``details`` (member -> its percentile 0-100) and
        ``contributions`` (explain.CONTRIBUTIONS_TYPE, against the training profile)."""
        columns = [c for c in df.columns if c not in OUTPUT_COLUMNS]
        out = with_percentile(
            self._with_ensemble(self._with_raw(df)),
            ENSEMBLE_RAW,
            self._published_quantiles(),
            SCORE_PCT,
        ).transform(self._with_weights)
        pairs = ", ".join(f"'{m.name}', {quote(_pct_col(m.name))}" for m in self.members)
        out = explain.with_contributions(out, self.features, self.profile, WEIGHTS)
        return out.selectExpr(
            *map(quote, columns),
            f"{quote(SCORE_PCT)} AS score",
            f"CAST(map({pairs}) AS MAP<STRING, DOUBLE>) AS details",
            "contributions",
        )

    def save(self, spark, path: str) -> None:
        """Replace the folder ``path``: preprocess/ and members/<name>/ hold Spark ML models
        (their own writers), model.json the rest."""
        storage.delete(spark, path)
        self.preprocess.pipeline().write().overwrite().save(f"{path}/preprocess")
        for m in self.members:
            if m.stage() is not None:
                m.stage().write().overwrite().save(f"{path}/members/{m.name}")
        document = {
            "format": FORMAT_VERSION,
            "features": self.features,
            "members": {m.name: m.state() for m in self.members},
            "member_order": [m.name for m in self.members],
            "member_quantiles": self.member_quantiles,
            "ensemble_quantiles": self.ensemble_quantiles,
            "interval_maxima": self.interval_maxima,
            "profile": self.profile,
            "params": self.params,
            "metrics": self.metrics,
        }
        storage.write_json(spark, f"{path}/model.json", document)


def load(spark, path: str) -> AnomalyModel:
    document = storage.read_json(spark, f"{path}/model.json")
    if document.get("format") != FORMAT_VERSION:
        raise StageFailed(f"{path}: unsupported anomaly model format {document.get('format')!r}")
    members = [
        load_member(name, document["members"][name], f"{path}/members/{name}")
        for name in document["member_order"]
    ]
    return AnomalyModel(
        features=list(document["features"]),
        preprocess=FittedScaling.from_pipeline(PipelineModel.load(f"{path}/preprocess")),
        members=members,
        member_quantiles=document["member_quantiles"],
        ensemble_quantiles=document["ensemble_quantiles"],
        profile=document["profile"],
        params=document["params"],
        metrics=document["metrics"],
        interval_maxima=document.get("interval_maxima", []),
    )


ONE_PARTITION_ROWS = 200_000  # training sets up to this size are fitted in one partition


def fit(df: DataFrame, features: Sequence[str], cfg: ModelConfig) -> AnomalyModel:
    """Fit the ensemble on the sessions in ``df``.

    k is capped at the number of distinct preprocessed rows (no more centres than points) and
    raised to 2 (Spark's minimum). Fewer than 2 distinct rows cannot be modelled: StageFailed.
    """
    features = list(features)
    if not features:
        raise StageFailed("the anomaly model needs at least one feature")
    keep = calibration.extra_columns(df) if cfg.calibration == "interval_max" else []
    if cfg.calibration == "interval_max" and calibration.INTERVAL not in df.columns:
        calibration.interval_maxima(df, "")  # raises: says which column is missing
    selected = df.select(*[F.col(quote(f)).cast("double").alias(f) for f in features], *keep)
    with persisted(selected) as data:
        distinct_row = "struct(" + ", ".join(clean(f) for f in features) + ")"
        counts = data.selectExpr("count(1)", f"count(DISTINCT {distinct_row})").first()
        rows, distinct = int(counts[0]), int(counts[1])
        if distinct < 2:
            raise StageFailed(
                f"cannot train on {rows} session(s) with {distinct} distinct feature row(s): "
                "the anomaly model needs at least 2 distinct sessions in the training window"
            )
        k = max(2, min(cfg.k, distinct))
        if k != cfg.k:
            log.warning("model.k=%s adjusted to %s (%s distinct rows)", cfg.k, k, distinct)
        relative_error = 0.0 if rows <= EXACT_QUANTILE_ROWS else 1e-4
        profile = explain.feature_profile(data, features)
        preprocess = fit_preprocessing(data, features)
        columns = [log_col(j) for j in range(len(features))] + [SCALED, *keep]
        prepared = preprocess.transform(data).select(*columns)
        if rows <= ONE_PARTITION_ROWS:
            # Each KMeans / GMM iteration is a Spark job: one partition is cheaper (bench/).
            prepared = prepared.coalesce(1)
        with persisted(prepared) as train:
            train.count()  # materialise it before the raw copy goes
            data.unpersist()
            std = [float(s) for s in preprocess.scaler.std.toArray()]
            members, member_metrics = [], {}
            for name in cfg.members:
                member, member_metrics[name] = fit_member(
                    name, train, features, cfg, k, std, relative_error
                )
                members += [member] if member is not None else []
            if not members:
                raise StageFailed(f"every anomaly model member failed: {member_metrics}")
            params = {
                "kind": "unsupervised",
                "members": [m.name for m in members],
                "requested_members": list(cfg.members),
                "k": k,
                "requested_k": cfg.k,
                "max_iter": cfg.max_iter,
                "seed": cfg.seed,
                "n_quantiles": N_QUANTILES,
                "quantile_relative_error": relative_error,
                "gmm_reg_covar": gmm.REG_COVAR,
                "calibration": cfg.calibration,
            }
            metrics = {"rows": rows, "distinct_rows": distinct, "members": member_metrics}
            model = AnomalyModel(features, preprocess, members, {}, [], profile, params, metrics)
            calibration.calibrate(model, train, relative_error, N_QUANTILES)
    return model
