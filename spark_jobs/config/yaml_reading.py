"""Reading one YAML file into a mapping, with every YAML-level mistake as one ``file: key: reason``.

PyYAML on its own lets a config take the others down or mean something else than it says: a bad
date (``2014-13-01``) raises a bare ``ValueError`` with no file in it, a key written twice keeps
the last value without a word, and its scanner errors are several lines of caret art. Here each
of those is a ``ConfigError`` whose message is one line naming the file, the key (the dotted key
path, worked out from the indentation when the YAML cannot be parsed) and the reason in the
words of someone editing the file. Dates YAML cannot build stay text, so the schema reports
them against their key (``messages`` words them). Pure PyYAML: imported at DAG-parse time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from spark_jobs.errors import ConfigError

#: The key of errors about the whole file rather than one key.
TOP = "(top level)"
#: What the schema needs at least; said when a file holds no settings at all.
REQUIRED_HINT = "a use case needs at least id, description, start_date, source and features"


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a date it cannot build stays the text written."""

    def construct_yaml_timestamp(self, node: Node) -> Any:  # noqa: D102 - see the class
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:  # 2014-13-01, 2014-02-30: the schema says which key and why
            return self.construct_scalar(node)


ConfigLoader.add_constructor("tag:yaml.org,2002:timestamp", ConfigLoader.construct_yaml_timestamp)


def read_text(path: Path) -> str:
    """The file as text: UTF-8 (a BOM is fine), or an error saying where it is not."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        text = data[: exc.start].decode("utf-8", "replace")
        key = key_at_line(text + "x", line) or f"line {line}"
        raise ConfigError.at(
            path,
            key,
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, column {column} "
            f"(byte offset {exc.start}); save the file as UTF-8",
        ) from None


def load_mapping(path: Path, *, allow_empty: bool = False) -> dict[str, Any]:
    """The top-level mapping of a YAML file; ``allow_empty`` reads an empty file as ``{}``."""
    text = read_text(path)
    data = _parse(path, text)
    if data is None:
        if allow_empty:
            return {}
        what = "the file is empty" if not text.strip() else "the file holds only comments"
        raise ConfigError.at(path, TOP, f"{what}; {REQUIRED_HINT}")
    if not isinstance(data, dict):
        raise ConfigError.at(
            path,
            TOP,
            f"the file holds {_kind(data)}; a use case is a mapping of keys "
            "(id: ..., source: ..., one per line)",
        )
    bad_keys = [key for key in data if not isinstance(key, str)]
    if bad_keys:
        raise ConfigError.at(path, str(bad_keys[0]), "a key must be a name, not a number or a date")
    return data


def _parse(path: Path, text: str) -> Any:
    loader = ConfigLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _no_repeated_keys(path, node, ())
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(path, text, exc) from None
    except yaml.YAMLError as exc:  # unmarked: rare (a second document without a mark)
        raise ConfigError.at(path, TOP, f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    return f"a single value ({str(value)[:40]!r})"


def _no_repeated_keys(path: Path, node: Node, where: tuple[str, ...]) -> None:
    """A key given twice in one mapping is an error: YAML would keep the last one silently."""
    if isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _no_repeated_keys(path, item, (*where, str(index)))
        return
    if not isinstance(node, MappingNode):
        return
    first_line: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value) if not isinstance(key_node.value, list) else "?"
        line = key_node.start_mark.line + 1
        if key == "<<":  # a merge key may repeat; it adds keys, it does not set one
            continue
        if key in first_line:
            raise ConfigError.at(
                path,
                ".".join((*where, key)),
                f"given twice (lines {first_line[key]} and {line}); keep one, YAML would "
                "silently use the last",
            )
        first_line[key] = line
        _no_repeated_keys(path, value_node, (*where, key))


#: PyYAML problem text -> the same in the words of someone editing the file.
_PROBLEMS: tuple[tuple[str, str], ...] = (
    ("found character '\\t'", "a tab character; YAML indents with spaces only"),
    (
        "mapping values are not allowed",
        "a ': ' inside a value; put the value in quotes, or fix the indentation",
    ),  # fmt: skip
    ("expected ',' or ']'", "a [ list that is never closed with ]"),
    ("expected ',' or '}'", "a { mapping that is never closed with }"),
    ("found unexpected end of stream", "a quote that is never closed"),
    ("could not find expected ':'", "a line that is neither 'key: value' nor a '- item'"),
    ("expected <block end>", "the indentation does not line up with the lines above"),
    ("found undefined alias", "an *alias without a matching &anchor"),
    ("could not determine a constructor", "a !tag botwatch does not read; remove it"),
    ("found duplicate anchor", "an &anchor defined twice"),
)


def _yaml_error(path: Path, text: str, exc: yaml.MarkedYAMLError) -> ConfigError:
    """One line for a scanner / parser error: the key near it, the line and column, why."""
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "not valid YAML"
    reason = next((words for start, words in _PROBLEMS if problem.startswith(start)), None)
    if reason is None:
        reason = f"not valid YAML ({problem})"
    if exc.context_mark is not None and problem.startswith(("expected ',' or", "found unexp")):
        mark = exc.context_mark  # where the list / quote was opened, not the end of the file
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    key = key_at_line(text, line) or f"line {line}"
    return ConfigError.at(path, key, f"line {line}, column {column}: {reason}")


_KEY_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<dash>(?:-[ \t]+)*)(?P<key>[^\s#:\-'\"\[{][^:#]*?)"
                       r"[ \t]*:(?:\s|$)")  # fmt: skip


def key_at_line(text: str, line: int) -> str | None:
    """The dotted key path in force at ``line`` (1-based), read from block indentation.

    Used when the YAML cannot be parsed, so a node tree is not available: the nearest key at
    or above the line, and the keys it is indented under. Tabs count as 8 columns, so a
    tab-indented key still lands under its parent. None when no key precedes the line.
    """
    stack: list[tuple[int, str, bool]] = []  # (indent, key, has a value on its line)
    for raw in text.splitlines()[:line]:
        expanded = raw.expandtabs(8)
        if not expanded.strip() or expanded.lstrip().startswith("#"):
            continue
        match = _KEY_LINE.match(expanded)
        if match is None:
            continue
        indent = len(match.group("indent")) + len(match.group("dash"))
        while stack and (stack[-1][0] >= indent or stack[-1][2]):  # a key: value has no child
            stack.pop()
        value = expanded[match.end() :].split("#", 1)[0].strip()
        stack.append((indent, match.group("key").strip(), bool(value)))
    return ".".join(key for _, key, _ in stack) or None
