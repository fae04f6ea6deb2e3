"""Versioned models in the lake, and which one is the champion for a given data interval.

Layout under ``models/use_case=<id>/``::

    versions/<version>/model/          what the model kind saves (Spark ML pipelines + JSON)
    versions/<version>/metadata.json   window, features, params, training metrics, data counts
    champion.json                      promotion history: version and the window it was fit on

A version name is ``<kind>-<algorithm>-<interval key>-<fingerprint>``; the fingerprint hashes
everything that changes what a model learns (features, entity and model config), so a rerun of
train for the same interval and config rewrites the same version (idempotent), while a config
change yields a new one. The champion *for an interval* is the newest promotion whose training
window ended at or before that interval's end: scoring a backfilled day never uses a model that
has seen its future, and the train stage can tell whether the current champion is still fresh.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from spark_jobs.config.usecase import UseCase
from spark_jobs.lake import layout, storage
from spark_jobs.models.kinds import FittedModel, model_kind

CHAMPION_FILE = "champion.json"


def registry_path(lake_root: str, use_case: str) -> str:
    return layout.dataset_path(lake_root, "models", use_case)


def version_path(lake_root: str, use_case: str, version: str) -> str:
    return f"{registry_path(lake_root, use_case)}/versions/{version}"


def fingerprint(usecase: UseCase) -> str:
    """Hash of what a model is fit from: features, entity/session definition, model config."""
    model = usecase.model.model_dump(mode="json", exclude={"retrain_every_days"})
    payload = {
        "features": list(usecase.features),
        "entity": usecase.entity.model_dump(mode="json"),
        "timezone": usecase.timezone,
        "model": model,
    }
    text = json.dumps(payload, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def algorithm_name(usecase: UseCase) -> str:
    return model_kind(usecase.model.kind).algorithm(usecase.model)


def new_version(usecase: UseCase, interval_key: str) -> str:
    return f"{usecase.model.kind}-{algorithm_name(usecase)}-{interval_key}-{fingerprint(usecase)}"


@dataclass(frozen=True)
class Promotion:
    """One line of the champion history."""

    version: str
    window_end: datetime
    fingerprint: str
    promoted_for: str
    #: Order of promotion: among models fit on windows ending at the same instant (a config
    #: changed and the interval was trained again), the last one promoted wins.
    sequence: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "window_end": self.window_end.isoformat(),
            "fingerprint": self.fingerprint,
            "promoted_for": self.promoted_for,
            "sequence": self.sequence,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Promotion:
        return cls(
            version=data["version"],
            window_end=datetime.fromisoformat(data["window_end"]),
            fingerprint=data["fingerprint"],
            promoted_for=data["promoted_for"],
            sequence=int(data.get("sequence", 0)),
        )


def history(spark: Any, lake_root: str, use_case: str) -> list[Promotion]:
    path = f"{registry_path(lake_root, use_case)}/{CHAMPION_FILE}"
    if not storage.exists(spark, path):
        return []
    return [Promotion.from_json(item) for item in storage.read_json(spark, path)["history"]]


def champion(spark: Any, lake_root: str, use_case: str, as_of: datetime) -> Promotion | None:
    """The newest promotion whose training window ended at or before ``as_of``."""
    usable = [p for p in history(spark, lake_root, use_case) if p.window_end <= as_of]
    if not usable:
        return None
    return max(usable, key=lambda p: (p.window_end, p.sequence))


def is_fresh(promotion: Promotion | None, usecase: UseCase, as_of: datetime) -> tuple[bool, str]:
    """Whether training for the interval ending ``as_of`` can be skipped, and why (or why not)."""
    if promotion is None:
        return False, "no champion trained at or before this interval"
    if promotion.fingerprint != fingerprint(usecase):
        return False, f"champion {promotion.version} was fit with another config"
    age = as_of - promotion.window_end
    limit = timedelta(days=usecase.model.retrain_every_days)
    if age < limit:
        return True, f"champion {promotion.version} is {age} old (< retrain_every_days)"
    return False, f"champion {promotion.version} is {age} old (>= retrain_every_days)"


def promote(spark: Any, lake_root: str, use_case: str, promotion: Promotion) -> Promotion:
    """Record ``promotion`` as the latest; a promotion of the same version replaces its earlier
    line. Returns the promotion as recorded (with its sequence number)."""
    earlier = history(spark, lake_root, use_case)
    items = [p for p in earlier if p.version != promotion.version]
    promotion = replace(promotion, sequence=max((p.sequence for p in earlier), default=0) + 1)
    items.append(promotion)
    items.sort(key=lambda p: (p.window_end, p.sequence))
    path = f"{registry_path(lake_root, use_case)}/{CHAMPION_FILE}"
    storage.write_json(spark, path, {"history": [p.as_json() for p in items]})
    return promotion


def read_metadata(spark: Any, lake_root: str, use_case: str, version: str) -> dict[str, Any]:
    return storage.read_json(spark, f"{version_path(lake_root, use_case, version)}/metadata.json")


def write_metadata(
    spark: Any, lake_root: str, use_case: str, version: str, metadata: dict[str, Any]
) -> None:
    storage.write_json(
        spark, f"{version_path(lake_root, use_case, version)}/metadata.json", metadata
    )


def save_model(spark: Any, lake_root: str, use_case: str, version: str, fitted: FittedModel) -> str:
    target = f"{version_path(lake_root, use_case, version)}/model"
    fitted.save(spark, target)
    return target


def load_model(spark: Any, lake_root: str, use_case: str, version: str) -> tuple[FittedModel, dict]:
    """The fitted model of ``version`` and its metadata; works in any process."""
    metadata = read_metadata(spark, lake_root, use_case, version)
    kind = model_kind(metadata["kind"])
    return kind.load(spark, f"{version_path(lake_root, use_case, version)}/model"), metadata
