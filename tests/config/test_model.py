"""The ``model:`` section: each vocabulary is defined once, label files resolve in the project."""

from __future__ import annotations

import typing

import pytest
from pydantic import ValidationError

from spark_jobs.config.model import (
    ALGORITHMS,
    CENTROID_MEMBERS,
    MODEL_MEMBERS,
    LabelSource,
    ModelConfig,
)


def test_the_default_ensemble_is_every_member():
    assert ModelConfig().members == list(MODEL_MEMBERS)
    assert set(CENTROID_MEMBERS) <= set(MODEL_MEMBERS)


def test_the_tuples_are_the_schemas():
    fields = ModelConfig.model_fields
    assert typing.get_args(fields["algorithm"].annotation) == ALGORITHMS
    assert typing.get_args(typing.get_args(fields["members"].annotation)[0]) == MODEL_MEMBERS


def test_an_unknown_member_is_rejected():
    with pytest.raises(ValidationError, match="members"):
        ModelConfig(members=["kmeans", "dbscan"])


def test_label_path_resolves_against_the_home_given_as_context(tmp_path, monkeypatch):
    monkeypatch.delenv("BOTWATCH_HOME", raising=False)
    source = LabelSource.model_validate({"path": "labels/x.csv"}, context={"home": tmp_path})
    assert source.resolved_path() == str(tmp_path / "labels/x.csv")
    monkeypatch.chdir(tmp_path)
    assert LabelSource(path="y.csv").resolved_path() == str(tmp_path / "y.csv")
