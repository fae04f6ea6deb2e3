"""What an anomaly score is a percentile of: the training sessions, or each interval's maximum.

With ``sessions`` (the default) score 95 means "more unusual than 95 % of the sessions the model
was fitted on": every interval has its rarest 5 %, so a quiet day alerts as much as a busy one
and a threshold is a quota, not a bar. With ``interval_max`` the reference is the most unusual
session of each training interval: score 95 means "more unusual than the most unusual session of
95 % of the training intervals", which a typical interval's top session is not. That is the
block-maxima view of extreme-value statistics, with the empirical distribution of the maxima
instead of a fitted one (a week of daily runs is 7 maxima, too few to fit a tail; an hourly use
case has 168): an interval like the training ones raises an alert with chance about
1 / (intervals + 1) at threshold 100 - 100 / intervals, and one with a session beyond every
training interval's worst always does. Both published scales stay 0-100 and monotone in the
ensemble's raw score, so explanations and severities read the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.errors import StageFailed
from spark_jobs.models.anomaly.members import raw_col
from spark_jobs.models.anomaly.sql import ENSEMBLE_RAW

#: Whether a training session has the requests to alert (``alert.min_requests``): the
#: maxima are taken over those, since a one-request oddity that can never alert would
#: otherwise set a bar no alertable session reaches.
ALERTABLE = "alertable"
#: The training rows' interval key: the features dataset's partition column (``train`` reads
#: the window with its base path, so every row keeps it).
INTERVAL = "interval"


def quantiles(
    df: DataFrame, columns: list[str], n: int, relative_error: float
) -> list[list[float]]:
    """``n`` evenly spaced quantiles (0 to 1) of each column, sorted."""
    probs = [i / (n - 1) for i in range(n)]
    return [
        sorted(float(q) for q in qs) for qs in df.approxQuantile(columns, probs, relative_error)
    ]


def with_alertable(df: DataFrame, min_requests: int) -> DataFrame:
    """``ALERTABLE``: the session has at least ``min_requests`` requests."""
    return df.withColumn(ALERTABLE, F.coalesce(F.col("requests") >= min_requests, F.lit(False)))


def interval_maxima(df: DataFrame, value: str) -> list[float]:
    """The largest ``value`` of each interval of ``df``, sorted (one per training interval),
    over its alertable sessions when ``df`` says which they are."""
    if ALERTABLE in df.columns:
        df = df.where(F.col(ALERTABLE))
    if INTERVAL not in df.columns:
        raise StageFailed(
            "model.calibration: interval_max needs the training sessions' interval; the "
            f"features read for training have no {INTERVAL!r} column"
        )
    rows = df.groupBy(INTERVAL).agg(F.max(value).alias("top")).collect()
    return sorted(float(row["top"]) for row in rows if row["top"] is not None)


def extra_columns(df: DataFrame) -> list[str]:
    """The calibration columns ``df`` has, to carry through preprocessing."""
    return [name for name in (INTERVAL, ALERTABLE) if name in df.columns]


@contextmanager
def persisted(df: DataFrame) -> Iterator[DataFrame]:
    df = df.persist()
    try:
        yield df
    finally:
        df.unpersist()


def calibrate(model: Any, train: DataFrame, relative_error: float, n: int) -> None:
    """Store on ``model`` (an ``ensemble.AnomalyModel``) the training sessions' ``n`` quantiles
    of each member's raw measure, then of the ensemble's raw score (which needs the former),
    and with ``calibration: interval_max`` each interval's top ensemble score: passes over the
    persisted measures."""
    names = [m.name for m in model.members]
    keep = extra_columns(train) if model.params["calibration"] == "interval_max" else []
    measured = model._measure(train).select(*[raw_col(name) for name in names], *keep)
    with persisted(measured) as measures:
        found = quantiles(measures, [raw_col(name) for name in names], n, relative_error)
        model.member_quantiles = dict(zip(names, found, strict=True))
        ensemble = model._with_ensemble(measures)
        model.ensemble_quantiles = quantiles(ensemble, [ENSEMBLE_RAW], n, relative_error)[0]
        if keep:
            model.interval_maxima = interval_maxima(ensemble, ENSEMBLE_RAW)
            model.metrics["interval_maxima"] = model.interval_maxima
    for name, qs in model.member_quantiles.items():
        model.metrics["members"][name]["raw_quantiles"] = {
            "p50": qs[len(qs) // 2],
            "p99": qs[round(0.99 * (len(qs) - 1))],
            "max": qs[-1],
        }
