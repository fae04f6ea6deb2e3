"""Per-feature explanations shared by every model kind: why this row scored as it did.

A model reduces its reasoning to one non-negative weight per feature (its share of a distance,
of a z-score, of a classifier's evidence); this module turns those weights into the
``contributions`` column that alerts show: each feature's value beside the training
population's median and the value's percentile in that population. The population profile is
computed once at training time and stored with the model, so an explanation says "compared
with what the model learnt as normal", not "compared with whoever else is in this batch".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

#: Spark type of the ``contributions`` column, sorted by share, largest first.
CONTRIBUTIONS_TYPE = (
    "array<struct<feature: string, value: double, population_median: double, "
    "percentile: double, share: double>>"
)
#: Quantiles kept per feature: percentiles 0, 1, ..., 100.
PROFILE_QUANTILES = 101
#: Up to this many rows the profile is exact; above, relative error 1e-3.
EXACT_ROWS = 200_000


def feature_profile(df: DataFrame, features: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{feature: {"median": m, "quantiles": [q0 .. q100]}}`` of ``df``, JSON-serialisable.

    Nulls are ignored (a feature that is null everywhere gets an empty profile).
    """
    rows = df.count()
    relative_error = 0.0 if rows <= EXACT_ROWS else 1e-3
    probs = [i / (PROFILE_QUANTILES - 1) for i in range(PROFILE_QUANTILES)]
    cast = df.select(*[F.col(f).cast("double").alias(f) for f in features])
    quantiles = cast.approxQuantile(list(features), probs, relative_error) if rows else []
    profile: dict[str, dict[str, Any]] = {}
    for i, feature in enumerate(features):
        qs = [float(q) for q in quantiles[i]] if quantiles else []
        profile[feature] = {"median": qs[len(qs) // 2] if qs else None, "quantiles": qs}
    return profile


def _doubles(values: Sequence[float]) -> Column:
    return F.array(*[F.lit(float(v)) for v in values]).cast("array<double>")


def percentile_of(value: Column, quantiles: Sequence[float]) -> Column:
    """Share (0-100) of the profile's quantiles at or below ``value``; null for a null value or
    an empty profile."""
    if not quantiles:
        return F.lit(None).cast("double")
    below = F.size(F.filter(_doubles(quantiles), lambda q: q <= value))
    return F.when(value.isNull(), F.lit(None).cast("double")).otherwise(
        F.lit(100.0) * below / F.lit(float(len(quantiles)))
    )


def _by_share_desc(left: Column, right: Column) -> Column:
    return (
        F.when(left["share"] > right["share"], -1)
        .when(left["share"] < right["share"], 1)
        .when(left["feature"] < right["feature"], -1)
        .when(left["feature"] > right["feature"], 1)
        .otherwise(0)
    )


def with_contributions(
    df: DataFrame,
    features: Sequence[str],
    profile: Mapping[str, Mapping[str, Any]],
    weights_col: str,
) -> DataFrame:
    """Replace ``weights_col`` (array<double>, one non-negative weight per feature, in
    ``features`` order) by ``contributions`` (see CONTRIBUTIONS_TYPE).

    Shares are the weights normalised to sum to 1; when every weight is 0 (or null) all shares
    are 0. Ties are ordered by feature name so the output is deterministic.
    """
    weights = F.transform(
        F.col(weights_col), lambda w: F.greatest(F.coalesce(w, F.lit(0.0)), F.lit(0.0))
    )
    total = F.aggregate(weights, F.lit(0.0), lambda acc, w: acc + w)
    items = []
    for i, feature in enumerate(features):
        stats = profile.get(feature, {})
        value = F.col(feature).cast("double")
        items.append(
            F.struct(
                F.lit(feature).alias("feature"),
                value.alias("value"),
                F.lit(stats.get("median")).cast("double").alias("population_median"),
                percentile_of(value, stats.get("quantiles") or []).alias("percentile"),
                F.when(total > 0, weights[i] / total).otherwise(0.0).alias("share"),
            )
        )
    contributions = F.array_sort(F.array(*items), _by_share_desc)
    return df.withColumn("contributions", contributions.cast(CONTRIBUTIONS_TYPE)).drop(weights_col)
