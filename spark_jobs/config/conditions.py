"""``when:``: which sessions a use case is about, as a small safe expression over their columns.

A use case "clients with many 404s at night" must not alert on a browser that loaded fifty
images after midnight just because that session was the day's rarest: the model ranks, the
condition scopes. The text reads like Python (``status_404_share >= 0.2 and night_share >= 0.5``)
and is parsed with ``ast`` into a tree of a few allowed node kinds, type-checked against the
session columns, and compiled to a Spark column (``alerting.scope``); nothing is ever
``eval``-ed. This module has no Spark import, so the schema checks a condition when the DAG
is parsed and ``botwatch check`` names file, key and reason.

Grammar: ``and`` / ``or`` / ``not`` / parentheses; comparisons ``< <= > >= == !=`` (chains such
as ``0.2 <= x < 0.8`` too); ``name in [..]`` / ``not in``; ``+ - * /`` between numbers; number,
string and ``true``/``false`` literals. Names are the features (docs/features.md) and the
session fields in ``FIELDS``. A missing value (null) makes its comparison false.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from spark_jobs.features.catalog import ALL_FEATURE_NAMES

Kind = Literal["number", "bool", "text"]

#: Session columns beside the features a condition may name, and what they hold.
FIELDS: dict[str, Kind] = {
    "declared_crawler": "bool",  # its user agent says it is a crawler
    "spoofed_crawler": "bool",  # it claims a verifiable crawler its operator's ranges refute
    "crawler_operator": "text",  # the operator its user agent claims (google, bing, ...)
    "crawler_name": "text",
    "user_agent": "text",
    "client": "text",
}
#: Every name a condition may use, with its kind.
NAMES: dict[str, Kind] = {**dict.fromkeys(ALL_FEATURE_NAMES, "number"), **FIELDS}

COMPARISON_OPERATORS = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
}  # fmt: skip
ARITHMETIC_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_KIND_NAMES = {"number": "a number", "bool": "a condition", "text": "a text"}
_LITERAL_NAMES = {"true": True, "false": False, "True": True, "False": False}


class ConditionError(ValueError):
    """A ``when:`` that does not parse or does not type-check; the message says where."""


@dataclass(frozen=True)
class Condition:
    """A checked ``when:`` expression: its text and its ``ast`` tree (only allowed nodes)."""

    text: str
    tree: ast.expr

    @cached_property
    def names(self) -> tuple[str, ...]:
        """The columns it reads, in order of first use (what an explanation shows)."""
        seen: dict[str, None] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and node.id in NAMES:
                seen.setdefault(node.id, None)
        return tuple(seen)

    def explain(self, values: dict[str, object]) -> str:
        """``in scope: <text> (status_404_share=0.35, night_share=0.8)``, for an alert."""
        shown = ", ".join(f"{name}={_show(name, values.get(name))}" for name in self.names)
        return f"in scope: {self.text}" + (f" ({shown})" if shown else "")


def _show(name: str, value: object) -> str:
    if value is None:
        return "null"
    if NAMES[name] == "bool":  # the 0/1 crawler flags
        return "true" if value in (True, 1, 1.0) else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def parse(text: str) -> Condition:
    """The checked condition, or ``ConditionError`` naming the column and the problem."""
    source = " ".join(text.split())  # YAML folded / multi-line text reads as one line
    if not source:
        raise ConditionError("is empty; leave `when:` out to alert on every session")
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ConditionError(f"syntax error{where} in {source!r}: {exc.msg}") from None
    kind = _Checker().kind(tree)
    if kind != "bool":
        raise ConditionError(
            f"{source!r} is {_KIND_NAMES[kind]}, not a condition: compare it, e.g. `{source} >= 1`"
        )
    return Condition(source, tree)


class _Checker:
    """The kind of each node; anything outside the grammar is an error, never evaluated."""

    def kind(self, node: ast.expr) -> Kind:
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is None:
            raise ConditionError(f"{ast.unparse(node)!r}: {_what(node)} is not allowed here")
        return handler(node)

    def _Name(self, node: ast.Name) -> Kind:
        if node.id in _LITERAL_NAMES:
            return "bool"
        if node.id in NAMES:
            return NAMES[node.id]
        close = difflib.get_close_matches(node.id, list(NAMES), n=1, cutoff=0.6)
        mean = f"did you mean {close[0]!r}? " if close else ""
        raise ConditionError(
            f"unknown name {node.id!r}; {mean}names are the features of docs/features.md "
            f"and {', '.join(FIELDS)}"
        )

    def _Constant(self, node: ast.Constant) -> Kind:
        if isinstance(node.value, bool):
            return "bool"
        if isinstance(node.value, int | float):
            return "number"
        if isinstance(node.value, str):
            return "text"
        raise ConditionError(f"{ast.unparse(node)!r}: only numbers, text and true/false")

    def _BoolOp(self, node: ast.BoolOp) -> Kind:
        for value in node.values:
            self._expect(value, "bool", "and/or joins conditions")
        return "bool"

    def _UnaryOp(self, node: ast.UnaryOp) -> Kind:
        if isinstance(node.op, ast.Not):
            return self._expect(node.operand, "bool", "`not` negates a condition")
        if isinstance(node.op, ast.USub | ast.UAdd):
            return self._expect(node.operand, "number", "a sign goes before a number")
        raise ConditionError(f"{ast.unparse(node)!r}: {_what(node.op)} is not allowed")

    def _BinOp(self, node: ast.BinOp) -> Kind:
        if type(node.op) not in ARITHMETIC_OPERATORS:
            raise ConditionError(f"{ast.unparse(node)!r}: only + - * / between numbers")
        self._expect(node.left, "number", "arithmetic is between numbers")
        return self._expect(node.right, "number", "arithmetic is between numbers")

    def _Compare(self, node: ast.Compare) -> Kind:
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                self._membership(left, right)
            elif type(op) in COMPARISON_OPERATORS:
                self._comparison(left, op, right)
            else:
                raise ConditionError(f"{ast.unparse(node)!r}: {_what(op)} is not allowed")
            left = right
        return "bool"

    def _comparison(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> None:
        kinds = self.kind(left), self.kind(right)
        text = f"{ast.unparse(left)} {COMPARISON_OPERATORS[type(op)]} {ast.unparse(right)}"
        if kinds[0] != kinds[1]:
            raise ConditionError(f"{text!r} compares a {kinds[0]} with a {kinds[1]}")
        if kinds[0] != "number" and not isinstance(op, ast.Eq | ast.NotEq):
            raise ConditionError(f"{text!r}: a {kinds[0]} is only compared with == or !=")

    def _membership(self, left: ast.expr, right: ast.expr) -> None:
        kind = self.kind(left)
        if not isinstance(right, ast.List | ast.Tuple) or not right.elts:
            raise ConditionError(f"{ast.unparse(right)!r}: `in` takes a list, e.g. [1, 2]")
        for item in right.elts:
            if not isinstance(item, ast.Constant) or self.kind(item) != kind:
                raise ConditionError(
                    f"{ast.unparse(item)!r} in {ast.unparse(right)}: the list holds "
                    f"{kind} literals, like {ast.unparse(left)}"
                )

    def _expect(self, node: ast.expr, kind: Kind, why: str) -> Kind:
        got = self.kind(node)
        if got != kind:
            text = ast.unparse(node)
            hint = f"; compare it, e.g. `{text} >= 1`" if kind == "bool" else ""
            raise ConditionError(
                f"{text!r} is {_KIND_NAMES[got]}, not {_KIND_NAMES[kind]}: {why}{hint}"
            )
        return got


def _what(node: ast.AST) -> str:
    names = {"Call": "a function call", "Attribute": "attribute access", "Subscript": "indexing"}
    return names.get(type(node).__name__, f"`{type(node).__name__}`")


def literal_value(node: ast.expr) -> object:
    """The Python value of a literal node (``true``/``false`` names included)."""
    if isinstance(node, ast.Name):
        return _LITERAL_NAMES[node.id]
    return node.value  # type: ignore[attr-defined]


def is_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) or (
        isinstance(node, ast.Name) and node.id in _LITERAL_NAMES
    )
