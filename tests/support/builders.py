"""One way to build what stage tests need: a use-case YAML, the stage's command line, and the
lake paths and run records of an interval.

``usecase_yaml`` writes a minimal valid config; every keyword overrides (or adds) a top-level
key, so a test states only what it is about::

    config = usecase_yaml(tmp_path, "src_test", source={"path": glob, "out_of_window": "drop"},
                          schedule="0 * * * *")
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from spark_jobs.lake import layout, storage

#: What every test config has unless it says otherwise.
DEFAULTS: dict[str, Any] = {
    "start_date": date(2015, 5, 17),
    "source": {"path": "/nonexistent/*.log"},
    "features": ["requests", "head_share"],
}


def _plain(value: Any) -> Any:
    """Paths as strings, so YAML writes them as scalars."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def usecase_yaml(folder: Path, use_case: str = "test_uc", **overrides: Any) -> Path:
    """Write ``<folder>/<use_case>.yaml`` and return its path.

    ``source`` may be a path or glob (the source's ``path``) or a dict of source settings.
    """
    source = overrides.pop("source", DEFAULTS["source"])
    doc = {
        "id": use_case,
        "description": f"{use_case} test",
        **DEFAULTS,
        "source": source if isinstance(source, dict) else {"path": source},
        **overrides,
    }
    path = Path(folder) / f"{use_case}.yaml"
    path.write_text(yaml.safe_dump(_plain(doc), sort_keys=False), encoding="utf-8")
    return path


def _instant(value: datetime | str) -> str:
    return value.isoformat() if isinstance(value, datetime) else value


def stage_args(
    config: Path | str, start: datetime | str, end: datetime | str, lake_root: Path | str
) -> list[str]:
    """The command line of a stage entrypoint (``ingest.main(argv)``) for one interval."""
    return ["--config", str(config), "--start", _instant(start), "--end", _instant(end),
            "--lake", str(lake_root)]  # fmt: skip


def run_record_path(lake_root: Path | str, use_case: str, start: datetime, stage: str) -> str:
    return f"{layout.partition_path(str(lake_root), 'runs', use_case, start)}/{stage}.json"


def run_record(spark: Any, lake_root: Path | str, use_case: str, start: datetime, stage: str):
    """The JSON a stage wrote for the interval starting at ``start`` (as a dict: tests check
    the file's keys, which the typed records must keep)."""
    return storage.read_json(spark, run_record_path(lake_root, use_case, start, stage))
