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

from pydantic import ValidationError

from spark_jobs.config.messages import config_error
from spark_jobs.config.paths import project_home
from spark_jobs.config.usecase import UseCase
from spark_jobs.config.yaml_reading import load_mapping
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


def merged_config_dict(path: Path) -> dict[str, Any]:
    """The config as the jobs see it: ``_defaults.yaml`` of the same folder merged under it."""
    path = Path(path)
    defaults_path = path.parent / DEFAULTS_FILE
    try:
        defaults = load_mapping(defaults_path, allow_empty=True) if defaults_path.exists() else {}
    except ConfigError as exc:  # said against the file being loaded, which it breaks too
        raise ConfigError.at(
            path,
            exc.key or "(top level)",
            f"{exc.reason or exc} (in {defaults_path}, merged under every file of the folder)",
        ) from None
    return _deep_merge(defaults, load_mapping(path))


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
        raise config_error(path, exc, UseCase) from None
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

    Each file is loaded on its own, so a broken one never stops the others. Two files with
    the same ``id`` are both errors, each naming the other: which one is meant cannot be
    guessed, and loading either would silently replace a DAG.

    :param home: passed to ``load_usecase`` for every file.
    """
    loaded: list[tuple[Path, UseCase]] = []
    errors: list[str] = []
    for path in config_files(config_dir):
        try:
            loaded.append((path, load_usecase(path, home=home)))
        except ConfigError as exc:
            errors.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug on one file must not hide the others
            errors.append(str(ConfigError.at(path, "(top level)", f"cannot be read: {exc}")))
    files_of: dict[str, list[Path]] = {}
    for path, usecase in loaded:
        files_of.setdefault(usecase.id, []).append(path)
    good = [(path, uc) for path, uc in loaded if len(files_of[uc.id]) == 1]
    for path, usecase in loaded:
        others = [str(other) for other in files_of[usecase.id] if other != path]
        if others:
            errors.append(str(duplicate_id_error(path, usecase.id, others)))
    return good, errors


def duplicate_id_error(path: Path, use_case: str, others: list[str]) -> ConfigError:
    """The error of one of several files that share an id."""
    return ConfigError.at(
        path,
        "id",
        f"{use_case!r} is also the id of {', '.join(others)}; neither DAG is loaded until "
        "each file has an id of its own",
    )
