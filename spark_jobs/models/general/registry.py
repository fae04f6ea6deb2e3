"""The general models shipped with the package, by name: ``model.pretrained: general-v1``.

Each is a ``<name>.json`` (``forest.Forest``) with its data card ``<name>.md`` beside it, under
``models/general/data/``. Read through ``importlib.resources``: on executors the package runs
from the zip ``stage.shipping`` adds, where ``__file__`` paths cannot be opened.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from spark_jobs.models.general.forest import Forest

DATA_DIR = resources.files(__package__).joinpath("data")
DEFAULT_MODEL = "general-v1"


def available() -> list[str]:
    """Names of the shipped models."""
    return sorted(p.name[: -len(".json")] for p in DATA_DIR.iterdir() if p.name.endswith(".json"))


@lru_cache(maxsize=4)
def load(name: str = DEFAULT_MODEL) -> Forest:
    """The shipped model ``name``; a ValueError naming the shipped ones otherwise."""
    path = DATA_DIR.joinpath(f"{name}.json")
    if not path.is_file():
        raise ValueError(f"no shipped general model {name!r}; shipped: {', '.join(available())}")
    return Forest.from_json(path.read_text(encoding="utf-8"))
