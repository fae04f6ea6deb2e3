"""Reading use-case files: YAML, the folder's ``_defaults.yaml`` merged under, one-line errors.

A config error must name the file, the key and the reason on one line: the DAG factory shows it
as the import error of ``botwatch_config_errors.py`` and ``botwatch check`` prints it. The
loader is also the one place that works out a file's project home (``paths.project_home``) and
hands it to the models, so that relative paths in the file resolve against its project.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from spark_jobs.config.paths import project_home
from spark_jobs.config.usecase import UseCase
from spark_jobs.errors import ConfigError

DEFAULTS_FILE = "_defaults.yaml"


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where} invalid YAML: {reason}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def merged_config_dict(path: Path) -> dict[str, Any]:
    """The config as the jobs see it: ``_defaults.yaml`` of the same folder merged under it."""
    path = Path(path)
    defaults_path = path.parent / DEFAULTS_FILE
    defaults = _read_yaml(defaults_path) if defaults_path.exists() else {}
    return _deep_merge(defaults, _read_yaml(path))


def _format_error(path: Path, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown key"
        elif err["type"] == "missing":
            reason = "required key is missing"
        parts.append(f"{key}: {reason}")
    return f"{path}: " + "; ".join(parts)


def load_usecase(
    path: str | os.PathLike[str], *, home: str | os.PathLike[str] | None = None
) -> UseCase:
    """Read and validate one use-case file; raise ConfigError with file, key and reason.

    :param path: the YAML file; ``_defaults.yaml`` of its folder is merged under it.
    :param home: the project home to use unless ``$BOTWATCH_HOME`` is set; None: found from
        the file's location (``paths.project_home``).
    """
    path = Path(path)
    context = {"home": project_home(path, home)}
    try:
        usecase = UseCase.model_validate(merged_config_dict(path), context=context)
    except ValidationError as exc:
        raise ConfigError(_format_error(path, exc)) from None
    return usecase


def config_files(config_dir: str | os.PathLike[str]) -> list[Path]:
    """Use-case files of a folder: every *.yaml / *.yml except files starting with '_'."""
    folder = Path(config_dir)
    files = [*folder.glob("*.yaml"), *folder.glob("*.yml")]
    return sorted(p for p in files if not p.name.startswith(("_", ".")))


def load_all(
    config_dir: str | os.PathLike[str], *, home: str | os.PathLike[str] | None = None
) -> tuple[list[tuple[Path, UseCase]], list[str]]:
    """All use cases of a folder: the valid ones, and one error line per invalid file.

    :param home: passed to ``load_usecase`` for every file.
    """
    good: list[tuple[Path, UseCase]] = []
    errors: list[str] = []
    seen: dict[str, Path] = {}
    for path in config_files(config_dir):
        try:
            usecase = load_usecase(path, home=home)
        except ConfigError as exc:
            errors.append(str(exc))
            continue
        if usecase.id in seen:
            errors.append(f"{path}: id: {usecase.id!r} is already used by {seen[usecase.id]}")
            continue
        seen[usecase.id] = path
        good.append((path, usecase))
    return good, errors
