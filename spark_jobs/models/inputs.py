"""How every model kind sees a feature: a finite non-negative double, log1p, standardised.

One definition shared by the unsupervised ensemble and the supervised classifiers, so both
read features the same way; only stock Spark ML stages, so saved pipelines load anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.ml import PipelineModel
from pyspark.ml.feature import (
    SQLTransformer,
    StandardScaler,
    StandardScalerModel,
    VectorAssembler,
)
from pyspark.sql import DataFrame


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


@dataclass(frozen=True)
class FittedScaling:
    """The fitted ``log_scaling_stages`` by name, for the code that reads one of them (the
    scaler's mean and std, the log1p stage alone) rather than running all three."""

    log1p: SQLTransformer
    assemble: VectorAssembler
    scaler: StandardScalerModel

    @property
    def stages(self) -> list:
        return [self.log1p, self.assemble, self.scaler]

    def transform(self, df: DataFrame) -> DataFrame:
        return self.scaler.transform(self.assemble.transform(self.log1p.transform(df)))

    def pipeline(self) -> PipelineModel:
        """The three stages as one PipelineModel: what is saved, and what loads anywhere."""
        return PipelineModel(stages=self.stages)

    @classmethod
    def from_pipeline(cls, model: PipelineModel) -> FittedScaling:
        """Name the stages of a saved ``pipeline()`` by type (one of each is expected)."""
        found = {}
        for kind in (SQLTransformer, VectorAssembler, StandardScalerModel):
            matches = [s for s in model.stages if isinstance(s, kind)]
            if len(matches) != 1:
                raise ValueError(
                    f"expected one {kind.__name__} in the preprocessing pipeline, "
                    f"found {len(matches)}: {[type(s).__name__ for s in model.stages]}"
                )
            found[kind] = matches[0]
        return cls(found[SQLTransformer], found[VectorAssembler], found[StandardScalerModel])


def fit_log_scaling(
    df: DataFrame,
    features: Sequence[str],
    log_cols: Sequence[str],
    vector_col: str,
    scaled_col: str,
) -> FittedScaling:
    """Fit ``log_scaling_stages`` on ``df``: what ``Pipeline(stages=...).fit(df)`` does (only
    the scaler learns anything), keeping each fitted stage by name."""
    log1p, assemble, scaler = log_scaling_stages(features, log_cols, vector_col, scaled_col)
    return FittedScaling(log1p, assemble, scaler.fit(assemble.transform(log1p.transform(df))))
