"""The two base classes of the use-case schema: strict models, and models bound to a project.

Unknown keys are rejected everywhere so that a typo in a config is an error naming the file and
key, not a silently ignored setting. Models whose values are paths (the use case itself, label
files, the quality suites) also remember the project home they were loaded for: relative paths
in a config mean "relative to the project", and only the loader knows which project that is
(see ``spark_jobs.config.paths``). The loader hands the home to pydantic as validation context
(``{"home": Path}``); a model built without one falls back to ``project_home()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationInfo, model_validator

from spark_jobs.config.paths import project_home


class Strict(BaseModel):
    """A config section: unknown keys are an error."""

    model_config = ConfigDict(extra="forbid")


def context_home(info: ValidationInfo) -> Path | None:
    """The project home the loader passed as validation context, if any."""
    context: Any = info.context
    home = context.get("home") if isinstance(context, dict) else None
    return Path(home) if home is not None else None


class ProjectBound(Strict):
    """A config section whose relative paths resolve against the project it was loaded for.

    The home is a private attribute: not a config key, not in ``model_dump``, but kept by
    ``model_copy`` and pickling, so a copied or shipped model still resolves the same way.
    """

    _home: Path | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _bind_home(self, info: ValidationInfo) -> ProjectBound:
        self._home = context_home(info)
        return self

    @property
    def home(self) -> Path:
        """The project folder relative paths of this section are resolved against."""
        return self._home if self._home is not None else project_home()
