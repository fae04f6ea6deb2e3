"""How every model kind sees a feature: a finite non-negative double, log1p, standardised.

One definition shared by the unsupervised ensemble and the supervised classifiers, so both
read features the same way; only stock Spark ML stages, so saved pipelines load anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.ml.feature import SQLTransformer, StandardScaler, VectorAssembler


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def clean(feature: str) -> str:
    """SQL for ``feature`` as a double with null / NaN / negative values as 0."""
    return f"greatest(coalesce(nanvl(CAST({quote(feature)} AS DOUBLE), 0D), 0D), 0D)"


def log_scaling_stages(
    features: Sequence[str], log_cols: Sequence[str], vector_col: str, scaled_col: str
) -> list:
    """log1p (into ``log_cols``) -> assemble -> standardise (mean, sample std).

    log1p keeps heavy-tailed counts (requests, bytes, seconds) from dominating; standardising
    gives every feature the same weight (and is what logistic regression needs).
    """
    logs = ", ".join(
        f"log1p({clean(f)}) AS {quote(c)}" for f, c in zip(features, log_cols, strict=True)
    )
    return [
        SQLTransformer(statement=f"SELECT *, {logs} FROM __THIS__"),
        VectorAssembler(inputCols=list(log_cols), outputCol=vector_col),
        StandardScaler(inputCol=vector_col, outputCol=scaled_col, withMean=True, withStd=True),
    ]
