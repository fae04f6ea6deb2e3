"""One stage run's place in the lake: which use case, which data interval, which lake root.

Stages get it from the runner's command line; domain code (the run report, the registry) takes
it as an argument to find the partitions and run records of the interval it works on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from spark_jobs.lake import layout

if TYPE_CHECKING:
    from spark_jobs.config.usecase import UseCase


@dataclass(frozen=True)
class StageContext:
    """One stage run: the use case, its data interval and the lake it works in."""

    stage: str
    config_path: str
    usecase: UseCase
    start: datetime
    end: datetime
    lake_root: str

    @property
    def key(self) -> str:
        return layout.interval_key(self.start)

    def path(self, dataset: str) -> str:
        return layout.partition_path(self.lake_root, dataset, self.usecase.id, self.start)

    def dataset(self, dataset: str) -> str:
        return layout.dataset_path(self.lake_root, dataset, self.usecase.id)

    def run_record_path(self, stage: str | None = None) -> str:
        return f"{self.path('runs')}/{stage or self.stage}.json"
