"""The cross-site protocols' building blocks: which files are sites, labels, caps, overlap."""

from __future__ import annotations

import pytest

from spark_jobs.config.usecase import UseCase
from spark_jobs.errors import ConfigError
from spark_jobs.evaluation import cross_site


def test_configs_expand_in_order_once_without_defaults(tmp_path):
    for name in ("b.yaml", "a.yaml", "_defaults.yaml"):
        (tmp_path / name).write_text("x: 1\n")
    paths = cross_site.expand_configs([f"{tmp_path}/*.yaml", str(tmp_path / "a.yaml")])
    assert paths == [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]
    with pytest.raises(ConfigError, match="nothing.yaml: no use-case config matches"):
        cross_site.expand_configs([str(tmp_path / "nothing.yaml")])


def _usecase(model: dict) -> UseCase:
    return UseCase.model_validate({
        "id": "site", "description": "d", "start_date": "2015-05-17",
        "source": {"path": "/tmp/x.log", "format": "combined"},
        "features": ["requests", "duration"], "model": model,
    })  # fmt: skip


def test_auto_labels_prefer_the_sites_label_file():
    weak = _usecase({"kind": "supervised", "weak_labels": True})
    filed = _usecase({"kind": "supervised", "labels": {"path": "/tmp/labels.csv"}})
    assert cross_site.label_mode(weak, "auto") == "weak"
    assert cross_site.label_mode(filed, "auto") == "config"
    assert cross_site.label_mode(filed, "weak") == "weak"


@pytest.mark.spark
def test_a_cap_samples_big_sites_and_keeps_small_ones_whole(spark):
    df = spark.range(1000)
    assert cross_site.capped(df, 2000, 0).count() == 1000
    assert 400 <= cross_site.capped(df, 500, 0).count() <= 600
    assert cross_site.capped(df, None, 0).count() == 1000


def test_a_site_cannot_be_both_trained_and_tested_on():
    site = cross_site.Site("aircare", "a.yaml", None, "weak", None, None, {})
    with pytest.raises(ConfigError, match="aircare both in --train and --test"):
        cross_site.fit_and_score([site], [site], ["requests"], None)
    with pytest.raises(ConfigError, match="at least two sites"):
        cross_site.leave_one_site_out([site], ["requests"], None)
