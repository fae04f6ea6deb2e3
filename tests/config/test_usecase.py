"""The use-case schema: interval globs, the lake default, one source per vocabulary."""

from __future__ import annotations

import typing
from datetime import UTC, datetime

from spark_jobs.config.loading import load_usecase
from spark_jobs.config.usecase import ENTITY_KEYS, EntityConfig
from tests.support.paths import REPO


def test_source_glob_fills_env_and_interval(monkeypatch):
    monkeypatch.delenv("BOTWATCH_HOME", raising=False)
    usecase = load_usecase(REPO / "usecase_configs" / "behavioural_bots.yaml")
    monkeypatch.setenv("BOTWATCH_LOGS", "/logs/site/{start:%Y-%m}/*{start:%d}.log.{gz,bz2}")
    start, end = datetime(2015, 5, 17, tzinfo=UTC), datetime(2015, 5, 18, tzinfo=UTC)
    assert usecase.source_glob(start, end) == "/logs/site/2015-05/*17.log.{gz,bz2}"
    assert usecase.source_glob_all() == "/logs/site/*/**.log.{gz,bz2}"
    monkeypatch.delenv("BOTWATCH_LOGS")
    assert usecase.source_glob(start, end) == str(
        REPO / "tests/fixtures/logs/elastic_examples/*.gz"
    )


def test_lake_is_storage_root_else_botwatch_lake_else_home_lake(monkeypatch):
    monkeypatch.delenv("BOTWATCH_HOME", raising=False)
    monkeypatch.delenv("BOTWATCH_LAKE", raising=False)
    usecase = load_usecase(REPO / "usecase_configs" / "behavioural_bots.yaml")
    assert usecase.lake_root() == str(REPO / "lake")
    monkeypatch.setenv("BOTWATCH_LAKE", "elsewhere")
    assert usecase.lake_root() == str(REPO / "elsewhere")
    storage = usecase.storage.model_copy(update={"root": "s3a://b/lake"})
    copied = usecase.model_copy(update={"storage": storage})
    assert copied.lake_root() == "s3a://b/lake"
    assert copied.home == usecase.home == REPO  # a copy keeps its project


def test_entity_keys_are_the_schemas():
    assert typing.get_args(EntityConfig.model_fields["key"].annotation) == ENTITY_KEYS
