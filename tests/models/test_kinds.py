"""The model-kind registry: one entry per ``model.kind``, looked up without Spark."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import typing

import pytest

from spark_jobs.config.usecase import ModelConfig
from spark_jobs.models.kinds import MODEL_KINDS, SCORED_COLUMNS, model_kind


def _config_kinds() -> set[str]:
    return set(typing.get_args(ModelConfig.model_fields["kind"].annotation))


def test_every_config_kind_has_exactly_one_entry():
    assert set(MODEL_KINDS) == _config_kinds()
    for name, kind in MODEL_KINDS.items():
        assert kind.name == name
        assert model_kind(name) is kind


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(
        ValueError, match=r"unknown model kind 'forest'; known kinds: pretrained, supervised, "
    ):
        model_kind("forest")


def test_what_the_stages_ask_of_a_kind():
    unsupervised = ModelConfig(members=["kmeans", "robust_z"])
    supervised = ModelConfig(kind="supervised", algorithm="random_forest", weak_labels=True)
    ensemble, classifier = model_kind("unsupervised"), model_kind("supervised")
    assert (ensemble.algorithm(unsupervised), ensemble.describe(unsupervised)) == (
        "ensemble",
        "kmeans+robust_z",
    )
    assert classifier.algorithm(supervised) == classifier.describe(supervised) == "random_forest"
    # Only the supervised kind is fit on labelled sessions alone.
    assert ensemble.learns_from_labels is False and classifier.learns_from_labels is True


@pytest.mark.parametrize(
    ("kind", "module"),
    [
        ("unsupervised", "spark_jobs.models.anomaly.ensemble"),
        ("supervised", "spark_jobs.models.supervised.classifier"),
        ("pretrained", "spark_jobs.models.general.pretrained"),
    ],
)
def test_fit_and_load_go_to_the_kinds_module(monkeypatch, kind, module):
    target = pytest.importorskip(module)
    monkeypatch.setattr(target, "fit", lambda df, features, cfg: ("fit", df, features, cfg))
    monkeypatch.setattr(target, "load", lambda spark, path: ("load", spark, path))
    from spark_jobs.models import labels

    monkeypatch.setattr(labels, "without_confirmed_bots", lambda df: df)  # no verdicts here
    entry = model_kind(kind)
    cfg = ModelConfig(kind=kind, weak_labels=kind == "supervised")
    assert entry.fit("df", ["requests"], cfg) == ("fit", "df", ["requests"], cfg)
    assert entry.load("spark", "/m") == ("load", "spark", "/m")


def test_fit_on_human_fits_the_ensemble_on_what_the_general_model_calls_human(monkeypatch):
    from spark_jobs.models.anomaly import ensemble
    from spark_jobs.models.general import pretrained

    monkeypatch.setattr(pretrained, "judged_human", lambda df, name: ("humans of", df, name))
    monkeypatch.setattr(ensemble, "fit", lambda df, features, cfg: ("fit", df))
    cfg = ModelConfig(kind="unsupervised", fit_on="human")
    assert model_kind("unsupervised").fit("df", ["requests"], cfg) == (
        "fit",
        ("humans of", "df", "general-v1"),
    )


def test_fitted_models_have_the_agreed_interface():
    from spark_jobs.models.anomaly.ensemble import AnomalyModel
    from spark_jobs.models.supervised.classifier import SupervisedModel

    for cls in (AnomalyModel, SupervisedModel):
        fields = {f.name for f in dataclasses.fields(cls)}
        assert {"params", "metrics"} <= fields
        assert callable(cls.score) and callable(cls.save)
    assert SCORED_COLUMNS == ("score", "details", "contributions")
    from spark_jobs.models.anomaly import ensemble

    assert ensemble.OUTPUT_COLUMNS == SCORED_COLUMNS


def test_looking_a_kind_up_does_not_import_spark_ml():
    code = (
        "import sys\n"
        "from spark_jobs.models.kinds import model_kind\n"
        "model_kind('supervised').algorithm\n"
        "print(sorted(m for m in sys.modules if m.startswith('pyspark')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_which_kinds_learn_from_analysts_verdicts():
    assert model_kind("unsupervised").uses_verdicts(ModelConfig()) is True  # bots leave the fit
    assert model_kind("unsupervised").uses_verdicts(ModelConfig(fit_on="human")) is True
    supervised = ModelConfig(kind="supervised", weak_labels=True)
    assert model_kind("supervised").uses_verdicts(supervised) is True
    assert model_kind("pretrained").uses_verdicts(ModelConfig(kind="pretrained")) is True
