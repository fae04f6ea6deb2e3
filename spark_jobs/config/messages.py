"""pydantic's validation errors, said in the words of the person who wrote the YAML.

pydantic speaks about Python (``Input should be a valid dictionary or instance of
EntityConfig``, ``String should match pattern '^[a-z][a-z0-9_]{1,62}$'``); a config's author
knows keys, lists, numbers and dates. Each error becomes ``key.path: reason`` with no class
name and no bare regex, an unknown key gets the nearest known one (difflib), and a config's
several errors stay one line: the first in full, then how many more and where.
"""

from __future__ import annotations

import calendar
import difflib
import re
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from spark_jobs.errors import ConfigError

#: Every ``pattern=`` of the schema, said as a rule (tests check none is missing).
PATTERN_WORDS: dict[str, str] = {
    r"^[a-z][a-z0-9_]{1,62}$": "an id may contain lowercase letters, digits and _, must start "
    "with a letter and be 2 to 63 characters long",
    r"^[a-z][a-z0-9_-]{0,40}$": "a sink name may contain lowercase letters, digits, _ and -, "
    "must start with a letter and be at most 41 characters long",
    r"^[a-z0-9][a-z0-9_.-]*$": "an index name may contain lowercase letters, digits, _, . and -, "
    "and must start with a letter or a digit",
}

_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least {}"),
    "greater_than": ("gt", "must be more than {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "less_than": ("lt", "must be less than {}"),
}
_NUMBER_TYPES = ("float_parsing", "float_type", "int_parsing", "int_type", "decimal_parsing")
_DATE_TYPES = (
    "date_from_datetime_parsing", "date_parsing", "date_type", "datetime_from_date_parsing",
    "datetime_parsing", "datetime_type", "date_from_datetime_inexact",
)  # fmt: skip


def config_error(path: str | Path, exc: ValidationError, model: type[BaseModel]) -> ConfigError:
    """One ConfigError for all of ``exc``: the first problem, then how many more and where."""
    problems = [describe(err, model) for err in exc.errors()]
    key, reason = problems[0]
    if len(problems) > 1:
        others = ", ".join(dict.fromkeys(k for k, _ in problems[1:]))
        reason += f" (and {len(problems) - 1} more: {others})"
    return ConfigError.at(path, key, reason)


def describe(err: Any, model: type[BaseModel]) -> tuple[str, str]:
    """(dotted key, reason) of one pydantic error dict, for a document of ``model``."""
    raw = tuple(err["loc"])
    loc, here = _walk(model, raw)
    key = ".".join(str(part) for part in loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        return key, _unknown_key(str(raw[-1]), _walk(model, raw[:-1])[1])
    return key, _reason(err, here)


def _reason(err: Any, here: Any) -> str:
    """Why, for the schema type ``here`` found at the error's key."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        fields = _field_names(here)
        keys = f" with keys such as {', '.join(fields[:4])}" if fields else ""
        return f"expected a mapping{keys} (one 'key: value' per line), got {_shown(value)}"
    if kind == "list_type":
        return f"expected a list ([a, b] or one '- item' per line), got {_shown(value)}"
    if kind in _NUMBER_TYPES:
        return f"expected a number, got {_shown(value)}"
    if kind in ("int_from_float",):
        return f"expected a whole number, got {_shown(value)}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {_shown(value)}"
    if kind == "string_type":
        return f"expected text, got {_shown(value)}; put it in quotes"
    if kind in _BOUNDS:
        name, words = _BOUNDS[kind]
        return words.format(_number(ctx.get(name))) + f", got {_shown(value)}"
    if kind in ("string_too_short", "string_too_long"):
        size = ctx.get("min_length", ctx.get("max_length"))
        most = "at least" if kind == "string_too_short" else "at most"
        return f"must be {most} {size} character(s) long, got {_shown(value)}"
    if kind in ("too_short", "too_long"):
        size = ctx.get("min_length", ctx.get("max_length"))
        most = "at least" if kind == "too_short" else "at most"
        return f"needs {most} {size} item(s), got {ctx.get('actual_length', '?')}"
    if kind == "string_pattern_mismatch":
        rule = PATTERN_WORDS.get(ctx.get("pattern", ""), "the value does not have the form needed")
        return f"{rule}; got {_shown(value)}"
    if kind == "literal_error":
        return _not_one_of(value, _literal_values(here, ctx))
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        if kind == "union_tag_not_found":
            return f"needs a type: one of {', '.join(tags)}"
        close = difflib.get_close_matches(str(ctx.get("tag")), tags, n=1, cutoff=0.6)
        mean = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown type {ctx.get('tag')!r}; known: {', '.join(tags)}{mean}"
    if kind in _DATE_TYPES:
        return not_a_date(value)
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return _plain(str(err["msg"]))


def not_a_date(value: Any) -> str:
    """Why ``value`` is no date, in calendar words (month 13, 30 February) where it can tell."""
    text = str(value)
    match = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})", text)
    hint = "write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"
    if match is None:
        return f"not a date: {text!r}; {hint}"
    year, month, day = (int(part) for part in match.groups())
    if not 1 <= month <= 12:
        return f"not a date: {text} (month {month}; months are 1 to 12)"
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        return f"not a date: {text} ({calendar.month_name[month]} {year} has {last} days)"
    return f"not a date and time: {text!r}; {hint}"


def _shown(value: Any) -> str:
    """A value as the YAML author wrote it, with what YAML made of it."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, int | float):
        return f"the number {_number(value)}"
    if isinstance(value, str):
        return f"the text {value[:60]!r}"
    if isinstance(value, dict):
        return "a mapping" + (f" ({', '.join(map(str, list(value)[:3]))})" if value else " ({})")
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if value is None:
        return "nothing (null)"
    return f"{value!s:.60}"


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _plain(msg: str) -> str:
    """A message pydantic words alone, without Python class names."""
    msg = re.sub(r"\s*or instance of \w+", "", msg)
    return msg.replace("Input should be", "must be").replace("a valid dictionary", "a mapping")


def _unknown_key(key: str, parent: Any) -> str:
    known = _field_names(parent)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    if known:
        return f"unknown key; known keys here: {', '.join(known)}"
    return "unknown key"


def _not_one_of(value: Any, choices: list[str]) -> str:
    close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    mean = f"; did you mean {close[0]!r}?" if close else ""
    return f"must be one of {', '.join(choices)}; got {value!r}{mean}"


def _literal_values(here: Any, ctx: dict) -> list[str]:
    """The allowed values of a Literal: from the schema, else from pydantic's wording."""
    if get_origin(here) is Literal:
        return [str(v) for v in get_args(here)]
    return re.findall(r"'([^']*)'", str(ctx.get("expected", "")))


def _field_names(model: Any) -> list[str]:
    return list(model.model_fields) if _is_model(model) else []


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _unwrap(tp: Any) -> Any:
    """``X`` of ``Annotated[X, ...]`` and of ``X | None``; unions of several stay unions."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return tp


def _union_member(tp: Any, tag: str) -> Any:
    """The member of a discriminated union of models whose ``type`` default is ``tag``."""
    for member in get_args(tp):
        member = _unwrap(member)
        field = member.model_fields.get("type") if _is_model(member) else None
        if field is not None and field.default == tag:
            return member
    return None


def _walk(model: type[BaseModel], loc: tuple) -> tuple[tuple, Any]:
    """(the loc a person reads, the schema type found at it), following the schema.

    pydantic inserts the chosen tag of a discriminated union into ``loc``
    (``alert.sinks.0.webhook.url``); the YAML has no such key, so it is left out.
    """
    shown: list[Any] = []
    current: Any = model
    for part in loc:
        tp = _unwrap(current)
        if get_origin(tp) in (Union, types.UnionType) and isinstance(part, str):
            member = _union_member(tp, part)
            if member is not None:
                current = member
                continue
        shown.append(part)
        if _is_model(tp) and isinstance(part, str) and part in tp.model_fields:
            current = tp.model_fields[part].annotation
        elif get_origin(tp) in (list, tuple) and isinstance(part, int):
            current = get_args(tp)[0]
        elif get_origin(tp) is dict:
            current = get_args(tp)[1]
        else:
            current = Any
    return tuple(shown), _unwrap(current)
