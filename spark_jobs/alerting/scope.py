"""A use case's ``when:`` as a Spark column: which scored sessions it may alert on.

``config.conditions`` has parsed and type-checked the expression; this walks the same few node
kinds into ``pyspark.sql.Column`` operations (literals through ``F.lit``, so text in a condition
is never SQL). SQL's three-valued logic is kept inside and a null at the top counts as out of
scope: a session without a value cannot be shown to match.
"""

from __future__ import annotations

import ast
import operator

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.config.conditions import (
    FIELDS,
    Condition,
    is_literal,
    literal_value,
)

#: Name of the boolean column ``with_scope`` adds.
IN_SCOPE = "in_scope"

_COMPARE = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}  # fmt: skip
_ARITHMETIC = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: F.try_divide,  # x / 0 is null (no match), not an ANSI-mode error
}


def condition_column(condition: Condition) -> Column:
    """True where the session is in scope, False where not or where a value is missing."""
    return F.coalesce(_column(condition.tree), F.lit(False))


def with_scope(scores_df: DataFrame, condition: Condition | None) -> DataFrame:
    """Add ``in_scope``: the condition's verdict per session, True everywhere without one."""
    scope = F.lit(True) if condition is None else condition_column(condition)
    return scores_df.withColumn(IN_SCOPE, scope)


def _column(node: ast.expr) -> Column:
    if is_literal(node):
        return F.lit(literal_value(node))
    if isinstance(node, ast.Name):
        return _named(node.id)
    if isinstance(node, ast.BoolOp):
        parts = [_column(value) for value in node.values]
        join = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        result = parts[0]
        for part in parts[1:]:
            result = join(result, part)
        return result
    if isinstance(node, ast.UnaryOp):
        inner = _column(node.operand)
        if isinstance(node.op, ast.Not):
            return ~inner
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        return _ARITHMETIC[type(node.op)](_column(node.left), _column(node.right))
    if isinstance(node, ast.Compare):
        return _compare(node)
    raise TypeError(f"unchecked condition node {ast.dump(node)}")  # parse() rejects these


def _named(name: str) -> Column:
    """The session column; the 0/1 crawler flags read as booleans."""
    column = F.col(name)
    return column.cast("double") == 1.0 if FIELDS.get(name) == "bool" else column


def _compare(node: ast.Compare) -> Column:
    """A chain ``a < b <= c`` is ``a < b and b <= c``, as in Python."""
    left, links = node.left, []
    for op, right in zip(node.ops, node.comparators, strict=True):
        if isinstance(op, ast.In | ast.NotIn):
            values = [literal_value(item) for item in right.elts]  # type: ignore[attr-defined]
            link = _column(left).isin(values)
            links.append(~link if isinstance(op, ast.NotIn) else link)
        else:
            links.append(_COMPARE[type(op)](_column(left), _column(right)))
        left = right
    result = links[0]
    for link in links[1:]:
        result = result & link
    return result
