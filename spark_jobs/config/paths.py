"""Paths in use-case configs: environment references, interval placeholders, the project home.

Relative paths in a config (``source.path``, label files, ``storage.root``, the default lake,
the ``expectations/`` folder of the quality suites) are resolved against the **project home**,
so the installed package never assumes it runs from a checkout. The home of a config file is,
first match wins:

1. ``$BOTWATCH_HOME``, when set and not empty;
2. the home the caller passes (the DAG files pass the project folder they are deployed in);
3. the nearest folder, starting with the config file's own folder and going up, that holds a
   ``usecase_configs/`` or an ``expectations/`` folder (for this repository's
   ``usecase_configs/*.yaml``, ``bench/eval/*.yaml`` and ``tests/fixtures/bad_configs/*.yaml``
   that is the repository root);
4. the current directory.

Only the loader (``spark_jobs.config.loading``) works the home out; the loaded models carry it
(``spark_jobs.config.base.ProjectBound``). The DAG passes it on to every job as
``$BOTWATCH_HOME``, so a job resolves a config exactly as the DAG that submitted it did.
Pure standard library: imported at DAG-parse time.
"""

from __future__ import annotations

import difflib
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

from spark_jobs.errors import ConfigError

#: Overrides every other way of finding the project home.
HOME_ENV = "BOTWATCH_HOME"
#: A folder holding one of these is a project folder.
PROJECT_MARKERS = ("usecase_configs", "expectations")

#: ``{start:%Y-%m-%d}`` placeholders; other braces (Hadoop ``{a,b}`` globs) are left alone.
_DATE_REF = re.compile(r"\{(?P<which>start|end):(?P<fmt>[^}]*)\}")
_EACH_REF = re.compile(r"\{(?P<unit>hour|day):(?P<fmt>[^}]*)\}")
#: What may stand before ``:`` in a ``{...}`` placeholder.
PLACEHOLDERS = ("start", "end", "hour", "day")
#: strftime codes a placeholder's format may use (Python's, which fills them).
#: Names people reach for instead of the placeholders', for "did you mean".
_MEANT = {"begin": "start", "from": "start", "since": "start", "to": "end", "until": "end",
          "stop": "end", "date": "day", "today": "day"}  # fmt: skip
DATE_CODES = frozenset("aAbBcdfGHIjmMpSuUVwWxXyYzZ%")
_BRACES = re.compile(r"(?<!\$)\{(?P<body>[^{}]*)\}")
_ENV_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def project_home(
    config_path: str | os.PathLike[str] | None = None, home: str | os.PathLike[str] | None = None
) -> Path:
    """The project home of a config file, by the rule in the module docstring (absolute)."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser().resolve()
    if home is not None:
        return Path(home).expanduser().resolve()
    if config_path is not None:
        folder = Path(config_path).expanduser().resolve().parent
        for candidate in (folder, *folder.parents):
            if any((candidate / marker).is_dir() for marker in PROJECT_MARKERS):
                return candidate
    return Path.cwd()


def expand_env(text: str) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}``; an unset VAR without default is an error."""

    def _sub(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        value = os.environ.get(name)
        if value:
            return value
        if default is not None:
            return default
        raise ConfigError(f"environment variable {name} is not set and has no default")

    return _ENV_REF.sub(_sub, text)


def resolve_path(path: str, home: str | os.PathLike[str] | None = None) -> str:
    """Expand env references; make plain relative paths relative to the project home.

    URIs (``s3a://``, ``hdfs://``...) are kept as they are; local paths are normalised
    (``a/../b`` is ``b``), because Spark names the files it reads by their normalised path and
    the source store matches files by name. Without ``home`` the home is ``project_home()``
    ($BOTWATCH_HOME, else the current directory).
    """
    path = expand_env(path)
    if "://" in path:
        return path
    if os.path.isabs(path):
        return os.path.normpath(path)
    return os.path.normpath(Path(home if home is not None else project_home()) / path)


def lake_root(storage_root: str | None, home: str | os.PathLike[str]) -> str:
    """The lake: ``storage.root``, else ``$BOTWATCH_LAKE``, else ``<home>/lake``."""
    root = storage_root or os.environ.get("BOTWATCH_LAKE") or "lake"
    return resolve_path(root, home)


def expectations_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """Where Great Expectations suites live: ``$BOTWATCH_EXPECTATIONS_DIR`` (a deployment may
    ship its own), else ``<home>/expectations``."""
    override = os.environ.get("BOTWATCH_EXPECTATIONS_DIR")
    if override:
        return Path(override)
    return Path(home if home is not None else project_home()) / "expectations"


def fill_bounds(path: str, start: datetime, end: datetime) -> str:
    """Fill ``{start:FMT}`` / ``{end:FMT}`` from the data interval."""
    bounds = {"start": start, "end": end}
    return _DATE_REF.sub(lambda m: bounds[m.group("which")].strftime(m.group("fmt")), path)


def each_step(path: str) -> timedelta | None:
    """One hour or one day when the path uses ``{hour:}`` / ``{day:}``, else None."""
    units = {m.group("unit") for m in _EACH_REF.finditer(path)}
    if not units:
        return None
    return timedelta(hours=1) if "hour" in units else timedelta(days=1)


def interval_paths(path: str, start: datetime, end: datetime) -> list[str]:
    """The path once per hour / day the interval covers (``{hour:}``/``{day:}`` filled, then
    the bounds), in order and without repeats; just the filled path without such placeholders.
    """
    step = each_step(path)
    if step is None:
        return [fill_bounds(path, start, end)]
    moment = start.replace(minute=0, second=0, microsecond=0)
    if step == timedelta(days=1):
        moment = moment.replace(hour=0)
    filled: list[str] = []
    while moment < end:
        each = _EACH_REF.sub(lambda m, t=moment: t.strftime(m.group("fmt")), path)
        one = fill_bounds(each, start, end)
        if one not in filled:
            filled.append(one)
        moment += step
    return filled


def any_interval(path: str) -> str:
    """The path for every interval at once: every date placeholder becomes ``*``."""
    return _DATE_REF.sub("*", _EACH_REF.sub("*", path))


def unset_env_vars(text: str) -> list[str]:
    """Names of ``${VAR}`` references (without ``:-default``) whose variable is unset or empty."""
    return [
        m.group("name")
        for m in _ENV_REF.finditer(text)
        if m.group("default") is None and not os.environ.get(m.group("name"))
    ]


def placeholder_problems(path: str) -> list[str]:
    """What is wrong with the ``{...}`` placeholders of a path, one reason each.

    Braces holding a comma are Hadoop glob alternatives (``{a,b}``) and are left alone, as are
    ``${VAR}`` references (``unset_env_vars``) except the ``${VAR:default}`` slip for ``:-``.
    """
    problems: list[str] = []
    for bad in re.finditer(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):(?P<rest>[^-}][^}]*)\}", path):
        problems.append(
            f"${{{bad.group('name')}:{bad.group('rest')}}}: a default is written "
            f"${{{bad.group('name')}:-{bad.group('rest')}}}"
        )
    for match in _BRACES.finditer(path):
        body = match.group("body")
        name, colon, fmt = body.partition(":")
        if "," in body or not re.fullmatch(r"[A-Za-z_]+", name):
            continue
        if name not in PLACEHOLDERS:
            close = [_MEANT[name]] if name in _MEANT else []
            close = close or difflib.get_close_matches(name, PLACEHOLDERS, n=1, cutoff=0.5)
            mean = f"did you mean {{{close[0]}:{fmt}}}? " if close and colon else ""
            problems.append(
                f"unknown placeholder {match.group(0)}; {mean}known: "
                + ", ".join(f"{{{known}:FORMAT}}" for known in PLACEHOLDERS)
            )
        elif not colon or not fmt:
            problems.append(f"{match.group(0)} needs a date format, e.g. {{{name}:%Y-%m-%d}}")
        else:
            codes = re.findall(r"%(.?)", fmt)
            unknown = sorted({code for code in codes if code not in DATE_CODES})
            if unknown:
                problems.append(
                    f"unknown date code {', '.join('%' + c for c in unknown)} in "
                    f"{match.group(0)}; use %Y %m %d %H %M (year, month, day, hour, minute)..."
                )
    return problems
