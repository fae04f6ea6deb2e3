"""Spark SQL text for the anomaly ensemble: fitted numbers inlined as literals, no Python UDF.

The members' arithmetic is written out term by term on one double column per feature instead
of array lambdas (``transform``/``aggregate``): Spark evaluates lambdas element by element in
interpreted mode, while plain arithmetic becomes generated Java. For a GMM with 8 components
over 35 features (~5,000 multiply-adds a row) that is minutes against seconds per 300k rows.
Every expression is kept small (one sum over the features at most): the JVM does not
JIT-compile a method of more than 8 KB of bytecode, and one huge expression becomes one
huge method that then runs interpreted.

Catalyst inlines a projected column into the expressions that use it unless it is used more
than once and not trivially cheap. Each value that several later expressions need (a
standardised feature, a nearest centre, a component's log-likelihood) therefore gets its own
column through ``with_layer`` and is computed once per row; all such columns carry ``PREFIX``
and are dropped before output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from pyspark.sql import DataFrame

#: Prefix of every intermediate column; nothing with it survives ``AnomalyModel.score``.
PREFIX = "__anomaly_"
#: The ensemble's raw score: the mean of its members' percentiles.
ENSEMBLE_RAW = PREFIX + "ensemble"
#: Quantile lookups first count block heads, then look inside one block: ~2x32 comparisons
#: instead of one per quantile (those are array lambdas, but small and few).
BLOCK = 32


def num(value: float) -> str:
    """A DOUBLE literal (repr round-trips the exact value)."""
    value = float(value)
    if math.isnan(value):
        return "CAST('NaN' AS DOUBLE)"
    if math.isinf(value):
        return f"CAST('{'' if value > 0 else '-'}Infinity' AS DOUBLE)"
    return f"({value!r}D)"


def array_sql(values: Iterable[float]) -> str:
    return "array(" + ", ".join(num(v) for v in values) + ")"


def total(terms: Iterable[str]) -> str:
    terms = list(terms)
    return "(" + " + ".join(terms) + ")" if terms else "0D"


def square(expr: str) -> str:
    """``expr`` squared; ``pow`` compiles to StrictMath.pow, several times slower."""
    return f"(({expr}) * ({expr}))"


def linear(coefficients: Sequence[float], inputs: Sequence[str], constant: float = 0.0) -> str:
    """``constant + sum(c * x)``, skipping zero coefficients."""
    terms = [f"{num(c)} * {x}" for c, x in zip(coefficients, inputs, strict=True) if c != 0.0]
    return total([num(constant), *terms])


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def with_layer(df: DataFrame, columns: Mapping[str, str], drop: Sequence[str] = ()) -> DataFrame:
    """Add ``columns`` (name -> SQL expression) in one projection, and drop ``drop`` (columns
    nothing after this layer needs: narrower rows to copy)."""
    out = df.selectExpr("*", *[f"{sql} AS {quote(name)}" for name, sql in columns.items()])
    return out.drop(*drop) if drop else out


def with_percentile(df: DataFrame, value: str, quantiles: Sequence[float], out: str) -> DataFrame:
    """Add ``out``: 100 x the share of ``quantiles`` (sorted) at or below column ``value``.

    Exact (the same as counting every quantile): the block heads at or below the value say
    which block holds the boundary, and only that block is compared element-wise. +inf and NaN
    values (Spark orders NaN above everything) count every quantile, so they score 100.
    """
    n = len(quantiles)
    if n == 0:
        raise ValueError("no calibration quantiles")
    x, heads = quote(value), quote(out + "_c")
    table = array_sql(quantiles)
    df = with_layer(
        df, {out + "_c": f"size(filter({array_sql(quantiles[::BLOCK])}, h -> h <= {x}))"}
    )
    start = f"({heads} - 1) * {BLOCK}"
    within = f"size(filter(slice({table}, {start} + 1, {BLOCK}), q -> q <= {x}))"
    below = f"CASE WHEN {heads} = 0 THEN 0 ELSE {start} + {within} END"
    return with_layer(df, {out: f"100D * least({n}, {below}) / {num(n)}"}, drop=[out + "_c"])
