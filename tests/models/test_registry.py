"""The model registry: versions, champion per interval (backfills), freshness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spark_jobs.config.usecase import UseCase
from spark_jobs.models import registry as reg

BASE = {
    "id": "reg_case",
    "description": "registry test",
    "start_date": "2015-05-01",
    "source": {"path": "unused/*.log"},
    "features": ["requests", "iat_mean"],
}
DAY = datetime(2015, 5, 10, tzinfo=UTC)


def _usecase(**overrides) -> UseCase:
    return UseCase.model_validate(BASE | overrides)


def _promotion(usecase: UseCase, end: datetime) -> reg.Promotion:
    key = (end - timedelta(days=1)).strftime("%Y%m%dT%H%M%SZ")
    return reg.Promotion(reg.new_version(usecase, key), end, reg.fingerprint(usecase), key)


def test_fingerprint_follows_what_the_model_learns_from():
    base = _usecase()
    assert reg.fingerprint(base) == reg.fingerprint(_usecase())
    assert reg.fingerprint(base) != reg.fingerprint(_usecase(features=["requests", "duration"]))
    assert reg.fingerprint(base) != reg.fingerprint(_usecase(model={"k": 3}))
    assert reg.fingerprint(base) != reg.fingerprint(_usecase(entity={"session_gap_minutes": 10}))
    # How often to retrain does not change what a model is.
    assert reg.fingerprint(base) == reg.fingerprint(_usecase(model={"retrain_every_days": 7}))


def test_version_names_kind_algorithm_interval_and_config():
    usecase = _usecase(model={"kind": "supervised", "algorithm": "random_forest",
                              "weak_labels": True})  # fmt: skip
    version = reg.new_version(usecase, "20150510T000000Z")
    assert version == f"supervised-random_forest-20150510T000000Z-{reg.fingerprint(usecase)}"
    assert reg.new_version(_usecase(), "20150510T000000Z").startswith("unsupervised-ensemble-")


def test_champion_is_the_newest_model_fit_before_the_interval(spark, tmp_path):
    root, usecase = str(tmp_path / "lake"), _usecase()
    assert reg.champion(spark, root, usecase.id, DAY) is None
    # Promoted out of order, as a backfill does.
    later, earlier = _promotion(usecase, DAY + timedelta(days=5)), _promotion(usecase, DAY)
    later = reg.promote(spark, root, usecase.id, later)
    earlier = reg.promote(spark, root, usecase.id, earlier)
    assert reg.champion(spark, root, usecase.id, DAY - timedelta(days=1)) is None
    assert reg.champion(spark, root, usecase.id, DAY + timedelta(days=2)) == earlier
    assert reg.champion(spark, root, usecase.id, DAY + timedelta(days=9)) == later
    # Promoting the same version again (a rerun) replaces its line instead of adding one.
    reg.promote(spark, root, usecase.id, earlier)
    assert [p.version for p in reg.history(spark, root, usecase.id)] == [
        earlier.version,
        later.version,
    ]
    # Another config trained for the same interval: the last promoted wins.
    other = _usecase(model={"k": 3})
    retrained = reg.promote(spark, root, other.id, _promotion(other, DAY))
    assert reg.champion(spark, root, usecase.id, DAY + timedelta(days=2)) == retrained


def test_freshness_needs_same_config_and_young_enough_champion():
    usecase = _usecase(model={"retrain_every_days": 2})
    champ = _promotion(usecase, DAY)
    assert reg.is_fresh(None, usecase, DAY)[0] is False
    assert reg.is_fresh(champ, usecase, DAY)[0] is True  # a rerun of the same interval
    assert reg.is_fresh(champ, usecase, DAY + timedelta(days=1))[0] is True
    fresh, why = reg.is_fresh(champ, usecase, DAY + timedelta(days=2))
    assert fresh is False and ">= retrain_every_days" in why
    other = _usecase(model={"retrain_every_days": 2, "k": 4})
    fresh, why = reg.is_fresh(champ, other, DAY)
    assert fresh is False and "another config" in why
    always = _usecase(model={"retrain_every_days": 0})
    assert reg.is_fresh(_promotion(always, DAY), always, DAY)[0] is False


def test_metadata_round_trip(spark, tmp_path):
    root = str(tmp_path / "lake")
    reg.write_metadata(spark, root, "reg_case", "v1", {"kind": "unsupervised", "rows": 3})
    assert reg.read_metadata(spark, root, "reg_case", "v1") == {"kind": "unsupervised", "rows": 3}
