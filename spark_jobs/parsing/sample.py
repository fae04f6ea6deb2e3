"""Parse the first lines of one log file in plain Python, with the regex the Spark parser uses.

``botwatch check`` uses it so that a wrong ``format`` is caught in a second instead of after a
100-second ingest that quarantines everything. The line regex is the very pattern ``lines``
runs in Spark (``LineFormat.pattern``; Java's ``(?<name>`` spelled ``(?P<name>`` for Python,
whose ``re`` reads the same possessive quantifiers since 3.11), and the reasons are the
quarantine reasons, checked in the same order (``schema.REASONS``), so the sample and a run
cannot disagree on what parses. ``format: auto`` is decided as ``detection`` decides it: each
candidate's strict pattern on the sample, same thresholds. No Spark session is started.
"""

from __future__ import annotations

import bz2
import gzip
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from spark_jobs.parsing.formats.presets import (
    AUTO_CANDIDATES,
    JSON_DEFAULT_FIELDS,
    JSON_FORMATS,
    PRESETS,
    compile_format,
    preset,
)
from spark_jobs.parsing.formats.regex import CLF_TIME, ISO_TIME, LineFormat

#: Same rules as ``detection`` (kept equal by a test; that module needs Spark to import).
MIN_SHARE = 0.5
EXTRA_SHARE = 0.5
#: Lines parsed by default: enough to see a format, fast on a gzip file.
SAMPLE_LINES = 200
_REQUEST = re.compile(r"^(?P<method>[A-Za-z_-]+) (?P<target>\S+)(?: (?P<protocol>\S+))?$")
_STATUS = re.compile(r"^[0-9]{3}$")
_BYTES = re.compile(r"^[0-9]{1,18}$")
#: Spark datetime pattern letters (as ``strftime_to_spark`` writes them) -> strptime codes.
_SPARK_TO_STRPTIME = {
    "yyyy": "%Y", "yy": "%y", "MMM": "%b", "MM": "%m", "dd": "%d", "d": "%d", "HH": "%H",
    "mm": "%M", "ss": "%S", "Z": "%z", "XXX": "%z", "DDD": "%j",
}  # fmt: skip


@dataclass
class SampleResult:
    """What the first lines of one file gave: counts, the format used, bad line examples."""

    path: str
    format: str
    lines: int = 0
    parsed: int = 0
    bad: list[tuple[int, str, str]] = field(default_factory=list)  # (line no, reason, line)
    shares: dict[str, float] = field(default_factory=dict)  # format auto: every candidate

    @property
    def malformed(self) -> int:
        return self.lines - self.parsed


def python_pattern(java_pattern: str) -> re.Pattern[str]:
    """The Spark parser's Java regex as a Python one (named groups are spelled differently)."""
    return re.compile(re.sub(r"\(\?<([A-Za-z])", r"(?P<\1", java_pattern), re.DOTALL)


def read_head(path: str | Path, limit: int = SAMPLE_LINES) -> list[str]:
    """The first ``limit`` lines of a plain, .gz or .bz2 file (bad UTF-8 replaced)."""
    opener: Callable[..., Any] = open
    if str(path).endswith(".gz"):
        opener = gzip.open
    elif str(path).endswith(".bz2"):
        opener = bz2.open
    lines: list[str] = []
    with opener(path, "rb") as handle:
        try:
            for raw in handle:
                lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                if len(lines) >= limit:
                    break
        except (EOFError, OSError):  # a cut-short .gz: its readable lines are the sample
            pass
    return lines


def sample_parse(
    path: str | Path,
    spec: str,
    *,
    json_fields: dict[str, list[str]] | None = None,
    limit: int = SAMPLE_LINES,
) -> SampleResult:
    """Parse the head of ``path`` with ``spec`` (a preset, ``json``, ``auto`` or a format
    string); for ``auto`` the detected preset is the result's ``format``."""
    lines = read_head(path, limit)
    shares: dict[str, float] = {}
    if spec == "auto":
        spec, shares = detect(lines)
    reason_of = line_checker(spec, json_fields)
    result = SampleResult(path=str(path), format=spec, shares=shares)
    for number, line in enumerate(lines, start=1):
        result.lines += 1
        reason = reason_of(line)
        if reason is None:
            result.parsed += 1
        else:
            result.bad.append((number, reason, line))
    return result


def detect(lines: list[str]) -> tuple[str, dict[str, float]]:
    """The preset ``format: auto`` would pick for these lines, and every candidate's share."""
    sample = [line for line in lines if line.strip()]
    if not sample:
        return "combined", {}
    shares: dict[str, float] = {}
    extra_share = 0.0
    for name in AUTO_CANDIDATES:
        if name in JSON_FORMATS:
            check = line_checker(name)
        else:
            strict = preset(name)
            check = line_checker(replace(strict, pattern=strict.strict_pattern))
        parsed = [line for line in sample if check(line) is None]
        shares[name] = round(len(parsed) / len(sample), 4)
        if name == "combined" and parsed:
            pattern = python_pattern(preset(name).pattern)
            with_extra = [line for line in parsed if _extra(pattern, line)]
            extra_share = len(with_extra) / len(parsed)
    best = max(AUTO_CANDIDATES, key=lambda n: (shares[n], -AUTO_CANDIDATES.index(n)))
    if best == "combined" and extra_share >= EXTRA_SHARE:
        best = "combined_extra"
    return best, shares


def _extra(pattern: re.Pattern[str], line: str) -> bool:
    match = pattern.match(line.rstrip("\r"))
    return bool(match and (match.groupdict().get("extra") or "").strip())


def line_checker(
    fmt: str | LineFormat, json_fields: dict[str, list[str]] | None = None
) -> Callable[[str], str | None]:
    """A function giving a line's quarantine reason (None when it parses) under ``fmt``."""
    if isinstance(fmt, str) and fmt in JSON_FORMATS:
        mapping = {**JSON_DEFAULT_FIELDS, **{k: tuple(v) for k, v in (json_fields or {}).items()}}
        return lambda line: _json_reason(line, mapping)
    if isinstance(fmt, str):
        fmt = preset(fmt) if fmt in PRESETS else compile_format(fmt)
    pattern = python_pattern(fmt.pattern)
    read_time = time_reader(fmt.time_format)
    return lambda line: _text_reason(line, pattern, read_time)


def _text_reason(
    line: str, pattern: re.Pattern[str], read_time: Callable[[str], datetime | None]
) -> str | None:
    line = line.rstrip("\r")
    if not line.strip():
        return "empty"
    match = pattern.match(line)
    if match is None:
        return "no_match"
    groups = match.groupdict()
    if read_time(groups.get("time") or "") is None:
        return "bad_timestamp"
    status = groups.get("status")
    if status is not None and not _STATUS.match(status):
        return "bad_status"
    nbytes = groups.get("bytes")
    if nbytes is not None and nbytes not in ("-", "") and not _BYTES.match(nbytes):
        return "bad_bytes"
    return None


def time_reader(time_format: str) -> Callable[[str], datetime | None]:
    """A reader of the ``time`` group under one of ``LineFormat.time_format``'s forms."""
    if time_format.startswith("epoch_"):
        return lambda raw: _epoch(raw, time_format)
    if time_format == ISO_TIME:
        return _iso
    code = spark_to_strptime(time_format)
    return lambda raw: _strptime(raw, code)


def spark_to_strptime(pattern: str) -> str:
    """A Spark datetime pattern written by ``strftime_to_spark`` (or CLF's) as strptime codes."""
    pieces = re.finditer(r"'(?P<quoted>[^']*)'|(?P<letters>([A-Za-z])\3*)|(?P<other>.)", pattern)
    out: list[str] = []
    for piece in pieces:
        if piece.group("quoted") is not None:
            out.append(piece.group("quoted").replace("%", "%%") or "'")
        elif piece.group("letters"):
            letters = piece.group("letters")
            out.append(_SPARK_TO_STRPTIME.get(letters, letters))
        else:
            out.append(piece.group("other").replace("%", "%%"))
    return "".join(out)


def _strptime(raw: str, code: str) -> datetime | None:
    try:
        return datetime.strptime(raw, code)
    except ValueError:
        return None


def _iso(raw: str) -> datetime | None:
    try:
        return datetime.fromisoformat(raw.strip())
    except ValueError:
        return None


def _epoch(raw: str, time_format: str) -> datetime | None:
    try:
        seconds = (
            float(raw) * {"epoch_sec": 1.0, "epoch_msec": 1e-3, "epoch_usec": 1e-6}[time_format]
        )
        return datetime.fromtimestamp(seconds)
    except (ValueError, OverflowError, OSError):
        return None


def _json_value(doc: dict[str, Any], key: str) -> Any:
    """A key of a JSON line, flat (``"source.ip"``) or nested (``{"source": {"ip"}}``)."""
    if key in doc:
        return doc[key]
    node: Any = doc
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _first(doc: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = _json_value(doc, key)
        if value not in (None, "", "-") and not isinstance(value, dict | list):
            return str(value)
    return None


def _json_reason(line: str, mapping: dict[str, tuple[str, ...]]) -> str | None:
    line = line.rstrip("\r")
    if not line.strip():
        return "empty"
    if not line.lstrip().startswith("{"):
        return "not_json"
    try:
        doc = json.loads(line)
    except ValueError:  # Spark's permissive from_json: an object of nulls, so no_match
        doc = {}
    if not isinstance(doc, dict):
        return "not_json"
    request = _first(doc, mapping["request"]) or ""
    req = _REQUEST.match(request)
    url = _first(doc, mapping["url_path"])
    if _first(doc, mapping["target"]) is None and req is None and url is None:
        return "no_match"
    if _json_time(_first(doc, mapping["time"])) is None:
        return "bad_timestamp"
    if not _STATUS.match(_first(doc, mapping["status"]) or ""):
        return "bad_status"
    nbytes = _first(doc, mapping["bytes"])
    if nbytes is not None and not _BYTES.match(nbytes):
        return "bad_bytes"
    return None


def _json_time(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        number = float(raw)
    except ValueError:
        return _strptime(raw, spark_to_strptime(CLF_TIME)) or _iso(raw)
    return _epoch(str(number / 1000 if number > 1e11 else number), "epoch_sec")
