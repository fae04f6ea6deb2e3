"""Label files (three formats), joining them to sessions, and weak labels from crawler UAs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from spark_jobs.alerting.lifecycle import Verdict
from spark_jobs.config.model import LabelSource, ModelConfig
from spark_jobs.models.labels import (
    VERDICT_LABEL,
    read_labels,
    training_labels,
    verdict_counts,
    with_labels,
    with_verdict_labels,
    with_weak_labels,
    without_confirmed_bots,
)


def _as_dict(df) -> dict:
    return {r["key"]: r["label"] for r in df.collect()}


def test_whitespace_labels_strip_suffixes_and_skip_blank_lines(spark, tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("abc_1 human\n\n  abc_2\thuman  \ndef_1   moderate_bot\nghi advanced_bot\n")
    source = LabelSource(
        path=str(path),
        format="whitespace",
        key_suffix_pattern="_[0-9]+$",
        positive=["moderate_bot", "advanced_bot"],
        negative=["human"],
    )
    df = read_labels(spark, source)
    assert df.dtypes == [("key", "string"), ("label", "double")]
    assert _as_dict(df) == {"abc": 0.0, "def": 1.0, "ghi": 1.0}


def test_whitespace_line_without_label_is_an_error(spark, tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("abc human\nlonely\n")
    with pytest.raises(ValueError, match="lonely"):
        read_labels(spark, LabelSource(path=str(path), format="whitespace"))


def test_csv_labels_map_positive_and_negative_and_drop_others(spark, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("id,kind\nc1,bot\nc2,crawler\nc3,human\nc4,unsure\n")
    source = LabelSource(
        path=str(path),
        key_column="id",
        label_column="kind",
        positive=["bot", "crawler"],
        negative=["human"],
    )
    assert _as_dict(read_labels(spark, source)) == {"c1": 1.0, "c2": 1.0, "c3": 0.0}


def test_parquet_labels_without_negative_list_take_every_other_value_as_human(spark, tmp_path):
    path = str(tmp_path / "labels.parquet")
    rows = [("s1", "bot"), ("s2", "human"), ("s3", "whatever"), ("s1", "bot")]
    spark.createDataFrame(rows, "key string, label string").write.parquet(path)
    labels = _as_dict(read_labels(spark, LabelSource(path=path, format="parquet")))
    assert labels == {"s1": 1.0, "s2": 0.0, "s3": 0.0}


def test_conflicting_duplicates_after_stripping_are_an_error(spark, tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("abc_1 human\nabc_2 bot\nxyz_1 bot\nxyz_2 bot\n")
    source = LabelSource(path=str(path), format="whitespace", key_suffix_pattern="_[0-9]+$")
    with pytest.raises(ValueError, match="'abc'"):
        read_labels(spark, source)


def test_missing_label_file_names_the_path(spark, tmp_path):
    missing = str(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_labels(spark, LabelSource(path=missing))


def _features(spark):
    rows = [
        ("e1", "e1#0", 0.0, 1.0),
        ("e1", "e1#1", 0.0, 2.0),
        ("e2", "e2#0", 1.0, 3.0),
        ("e3", "e3#0", 0.0, 4.0),
    ]
    return spark.createDataFrame(
        rows, "entity string, session string, declared_crawler double, x double"
    )


def test_with_labels_matches_entities_or_sessions(spark):
    features = _features(spark)
    labels = spark.createDataFrame([("e1", 1.0), ("e2#0", 0.0)], "key string, label double")
    by_entity = {
        r["session"]: r["label"] for r in with_labels(features, labels, "entity").collect()
    }
    assert by_entity == {"e1#0": 1.0, "e1#1": 1.0, "e2#0": None, "e3#0": None}
    by_session = {
        r["session"]: r["label"] for r in with_labels(features, labels, "session").collect()
    }
    assert by_session == {"e1#0": None, "e1#1": None, "e2#0": 0.0, "e3#0": None}


def test_weak_labels_fill_only_missing_labels(spark):
    features = _features(spark)
    added = {r["session"]: r["label"] for r in with_weak_labels(features).collect()}
    assert added == {"e1#0": 0.0, "e1#1": 0.0, "e2#0": 1.0, "e3#0": 0.0}
    labels = spark.createDataFrame([("e2", 0.0), ("e3", 1.0)], "key string, label double")
    filled = with_weak_labels(with_labels(features, labels, "entity"))
    assert {r["session"]: r["label"] for r in filled.collect()} == {
        "e1#0": 0.0,
        "e1#1": 0.0,
        "e2#0": 0.0,  # the file says human although the UA says crawler: the file wins
        "e3#0": 1.0,
    }


def test_training_labels_combines_file_and_weak_labels(spark, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("key,label\ne2,human\ne3,bot\nunknown,bot\n")
    source = LabelSource(path=str(path), negative=["human"])
    features = _features(spark)

    file_only, summary = training_labels(
        spark, features, ModelConfig(kind="supervised", labels=source)
    )
    assert sorted(r["session"] for r in file_only.collect()) == ["e2#0", "e3#0"]
    assert summary == {
        "positives": 1,
        "negatives": 1,
        "from_file": 2,
        "weak": 0,
        "file_keys": 3,
        "file_keys_matched": 2,
    }

    both, summary = training_labels(
        spark, features, ModelConfig(kind="supervised", labels=source, weak_labels=True)
    )
    assert both.count() == 4
    assert (summary["positives"], summary["negatives"]) == (1, 3)
    assert (summary["from_file"], summary["weak"]) == (2, 2)

    weak_only, summary = training_labels(
        spark, features, ModelConfig(kind="supervised", weak_labels=True)
    )
    assert weak_only.count() == 4
    assert summary["positives"] == 1 and summary["weak"] == 4 and summary["file_keys"] == 0


def _verdict(entity, verdict, day, session=None):
    start = datetime(2015, 5, day, tzinfo=UTC)
    return Verdict(f"{entity}-{day}", entity, verdict, "why", "ann", start,
                   start + timedelta(days=1), session=session)  # fmt: skip


def _sessions(spark):
    rows = [
        ("e1", "e1#a", datetime(2015, 5, 17, 3, tzinfo=UTC), 0.0, "20150517T000000Z"),
        ("e1", "e1#b", datetime(2015, 5, 18, 3, tzinfo=UTC), 0.0, "20150518T000000Z"),
        ("e2", "e2#a", datetime(2015, 5, 17, 5, tzinfo=UTC), 1.0, "20150517T000000Z"),
        ("e3", "e3#a", datetime(2015, 5, 18, 9, tzinfo=UTC), 0.0, "20150518T000000Z"),
    ]
    return spark.createDataFrame(rows, "entity string, session string, session_start timestamp, "
                                 "declared_crawler double, interval string")  # fmt: skip


def test_verdicts_label_the_alerted_entitys_sessions_of_the_alerted_interval(spark):
    verdicts = [
        _verdict("e1", "true_positive", 17),
        _verdict("e2", "false_positive", 17),
        _verdict("e3", "false_positive", 16, session="e3#a"),  # by the alerted session
        _verdict("e3", "true_positive", 18),  # the later verdict wins
    ]
    sessions = _sessions(spark)
    for df in (sessions, sessions.drop("interval")):  # by partition, or by session_start
        labelled = with_verdict_labels(df, verdicts)
        got = {r["session"]: r[VERDICT_LABEL] for r in labelled.collect()}
        assert got == {"e1#a": 1.0, "e1#b": None, "e2#a": 0.0, "e3#a": 1.0}
        assert verdict_counts(labelled) == {"true_positive": 2, "false_positive": 1}
    assert with_verdict_labels(sessions, []) is sessions


def test_verdicts_override_file_and_weak_labels_in_training(spark):
    labelled_df = with_verdict_labels(_sessions(spark), [_verdict("e2", "false_positive", 17)])
    cfg = ModelConfig(kind="supervised", weak_labels=True)
    labelled, summary = training_labels(spark, labelled_df, cfg)
    assert {r["session"]: r["label"] for r in labelled.collect()} == {
        "e1#a": 0.0, "e1#b": 0.0, "e2#a": 0.0, "e3#a": 0.0,
    }  # fmt: skip
    assert VERDICT_LABEL not in labelled.columns
    assert (summary["from_verdict"], summary["weak"], summary["positives"]) == (1, 3, 0)


def test_confirmed_bots_leave_what_an_ensemble_fit_on_all_learns_as_normal(spark):
    verdicts = [_verdict("e1", "true_positive", 17), _verdict("e2", "false_positive", 17)]
    kept = without_confirmed_bots(with_verdict_labels(_sessions(spark), verdicts))
    assert sorted(r["session"] for r in kept.collect()) == ["e1#b", "e2#a", "e3#a"]
    plain = _sessions(spark)
    assert without_confirmed_bots(plain) is plain
