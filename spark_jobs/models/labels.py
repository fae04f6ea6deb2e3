"""Bot / not-bot labels for supervised training: from a label file, from self-declared crawlers,
or both, and analysts' verdicts on alerts over all of them.

Label files come from people or from published data sets, so they are read strictly: a key
labelled both ways is an error (training on it would silently teach noise), a missing file is
an error naming the path (a glob that matches nothing would otherwise train on weak labels
alone). Labels are small next to the features, so they are broadcast into the join.

An analyst's verdict (``botwatch feedback``) is the surest label there is: a true positive
labels the alerted entity's sessions of the alerted interval (and the alerted session) bot, a
false positive human, whatever the file or the user agent says (``with_verdict_labels``).
"""

from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.config.model import LabelSource, ModelConfig
from spark_jobs.errors import StageFailed
from spark_jobs.lake import layout, storage

log = logging.getLogger("botwatch")

LABEL = "label"
#: The label an analyst's verdict gives a session (null: no verdict covers it).
VERDICT_LABEL = "verdict_label"
VERDICT_VALUES = {"true_positive": 1.0, "false_positive": 0.0}


def _path_matches(spark: Any, path: str) -> bool:
    """True when ``path`` (a glob allowed) names at least one file or folder on its FileSystem."""
    return bool(storage.glob(spark, path))


def _raw_labels(spark: Any, source: LabelSource, path: str) -> DataFrame:
    """``key``, ``value`` strings as the file has them (trimmed)."""
    if source.format == "whitespace":
        lines = spark.read.text(path).select(F.trim("value").alias("line"))
        fields = lines.where(F.col("line") != "").select(
            "line", F.split("line", r"\s+").alias("fields")
        )
        bad = fields.where(F.size("fields") != 2).select("line").first()
        if bad is not None:
            raise ValueError(f"{path}: expected '<key> <label>' per line, got {bad['line']!r}")
        return fields.select(F.col("fields")[0].alias("key"), F.col("fields")[1].alias("value"))
    if source.format == "csv":
        df = spark.read.option("header", True).csv(path)
    else:
        df = spark.read.parquet(path)
    missing = [c for c in (source.key_column, source.label_column) if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing}; the file has {df.columns}")
    return df.select(
        F.trim(F.col(source.key_column).cast("string")).alias("key"),
        F.trim(F.col(source.label_column).cast("string")).alias("value"),
    )


def _label_of(value: Column, source: LabelSource) -> Column:
    """1.0 for a positive value, 0.0 for a negative one (any other value when negative is
    None), null for values that are neither (those rows are dropped)."""
    mapped = F.when(value.isin(*source.positive), F.lit(1.0))
    if source.negative is None:
        return mapped.when(value.isNotNull(), F.lit(0.0))
    return mapped.when(value.isin(*source.negative), F.lit(0.0))


def read_labels(spark: Any, source: LabelSource) -> DataFrame:
    """``key string, label double``, one row per key, keys stripped of ``key_suffix_pattern``.

    Raises FileNotFoundError when the path matches nothing, ValueError when a key ends up with
    both labels (e.g. two suffixed keys of one session labelled differently).
    """
    path = source.resolved_path()
    if not _path_matches(spark, path):
        raise FileNotFoundError(f"label file not found: {path}")
    if source.negative is not None:
        both = sorted(set(source.positive) & set(source.negative))
        if both:
            raise ValueError(f"label value(s) {both} are both positive and negative")
    key = F.col("key")
    if source.key_suffix_pattern:
        key = F.regexp_replace(key, source.key_suffix_pattern, "")
    labelled = (
        _raw_labels(spark, source, path)
        .select(key.alias("key"), _label_of(F.col("value"), source).alias(LABEL))
        .where(F.col("key").isNotNull() & (F.col("key") != "") & F.col(LABEL).isNotNull())
    )
    per_key = labelled.groupBy("key").agg(F.min(LABEL).alias("lo"), F.max(LABEL).alias("hi"))
    conflicts = per_key.where(F.col("lo") != F.col("hi"))
    example = conflicts.select("key").first()
    if example is not None:
        raise ValueError(
            f"{path}: {conflicts.count()} key(s) labelled both bot and not bot after "
            f"stripping {source.key_suffix_pattern!r}, e.g. {example['key']!r}"
        )
    return per_key.select("key", F.col("lo").cast("double").alias(LABEL))


def with_labels(features_df: DataFrame, labels_df: DataFrame, match: str) -> DataFrame:
    """Add ``label`` (double, null when unlabelled) by ``entity`` or ``session`` = key.

    A ``label`` column already in ``features_df`` is replaced.
    """
    if match not in ("entity", "session"):
        raise ValueError(f"match must be 'entity' or 'session', not {match!r}")
    labels = labels_df.select(F.col("key").alias("_label_key"), F.col(LABEL).cast("double"))
    joined = features_df.drop(LABEL).join(
        F.broadcast(labels), F.col(match) == F.col("_label_key"), "left"
    )
    return joined.drop("_label_key")


def with_weak_labels(df: DataFrame) -> DataFrame:
    """Fill a null ``label`` (or add it) from ``declared_crawler``: a crawler that says what it is
    is a bot, anyone else is taken as human. Labels already present win."""
    weak = F.col("declared_crawler").cast("double")
    label = F.coalesce(F.col(LABEL).cast("double"), weak) if LABEL in df.columns else weak
    return df.withColumn(LABEL, label)


def training_labels(
    spark: Any, features_df: DataFrame, cfg: ModelConfig
) -> tuple[DataFrame, dict[str, int]]:
    """The labelled rows of ``features_df`` per the config, and counts for the model metadata:
    ``positives``, ``negatives``, ``from_file``, ``weak`` (rows), ``file_keys`` (keys in the
    label file) and ``file_keys_matched`` (of those, keys found in the features)."""
    df = features_df.drop(LABEL)
    summary = {"file_keys": 0, "file_keys_matched": 0}
    if cfg.labels is not None:
        labels = read_labels(spark, cfg.labels)
        match = cfg.labels.match
        keys = df.select(F.col(match).alias("key")).distinct()
        summary["file_keys"] = labels.count()
        summary["file_keys_matched"] = labels.join(keys, "key", "left_semi").count()
        df = with_labels(df, labels, match)
    df = df.withColumn(
        "_from_file", F.col(LABEL).isNotNull() if LABEL in df.columns else F.lit(False)
    )
    if cfg.weak_labels:
        df = with_weak_labels(df)
    verdicts = VERDICT_LABEL in df.columns
    if verdicts:
        current = F.col(LABEL) if LABEL in df.columns else F.lit(None).cast("double")
        df = df.withColumn(LABEL, F.coalesce(F.col(VERDICT_LABEL), current))
    if LABEL not in df.columns:  # unreachable with a valid config; keeps the contract simple
        raise StageFailed("no labels: the config has neither a label file nor weak_labels")
    labelled = df.where(F.col(LABEL).isNotNull())
    by_verdict = F.col(VERDICT_LABEL).isNotNull() if verdicts else F.lit(False)
    counts = labelled.agg(
        F.count(F.when(F.col(LABEL) == 1.0, 1)).alias("positives"),
        F.count(F.when(F.col(LABEL) == 0.0, 1)).alias("negatives"),
        F.count(F.when(F.col("_from_file") & ~by_verdict, 1)).alias("from_file"),
        F.count(F.when(~F.col("_from_file") & ~by_verdict, 1)).alias("weak"),
        *([F.count(F.when(by_verdict, 1)).alias("from_verdict")] if verdicts else []),
    ).first()
    summary.update({k: int(v) for k, v in counts.asDict().items()})
    if cfg.labels is not None and summary["file_keys_matched"] == 0:
        log.warning(
            "none of the %s keys of %s matches a feature %s (check match / key_suffix_pattern)",
            summary["file_keys"],
            cfg.labels.path,
            cfg.labels.match,
        )
    return labelled.drop("_from_file", VERDICT_LABEL), summary


def _covered(verdict: Any, columns: list[str]) -> Column:
    """The sessions a verdict speaks for: the alerted entity's in the alerted interval (by the
    ``interval`` partition column when read with it, else by ``session_start``), and the alerted
    session itself (all of it, when sessions are the log's own ids)."""
    if "interval" in columns:
        during = F.col("interval").cast("string") == layout.interval_key(verdict.interval_start)
    else:
        start = F.col("session_start")
        during = (start >= F.lit(verdict.interval_start)) & (start < F.lit(verdict.interval_end))
    covered = (F.col("entity") == F.lit(verdict.entity)) & during
    if verdict.session:
        covered = covered | (F.col("session") == F.lit(verdict.session))
    return covered


def with_verdict_labels(features_df: DataFrame, verdicts: list[Any]) -> DataFrame:
    """Add ``verdict_label`` (1.0 bot, 0.0 human, null) from analysts' verdicts
    (``lifecycle.Verdict``); where two cover a session, the later alerted interval wins (a
    true positive on a tie). ``features_df`` unchanged when there are none."""
    if not verdicts:
        return features_df
    label = None
    latest_first = sorted(
        verdicts, key=lambda v: (v.interval_start, v.verdict == "true_positive"), reverse=True
    )
    for verdict in latest_first:
        value, covered = (
            F.lit(VERDICT_VALUES[verdict.verdict]),
            _covered(verdict, features_df.columns),
        )
        label = F.when(covered, value) if label is None else label.when(covered, value)
    return features_df.withColumn(VERDICT_LABEL, label)


def verdict_counts(features_df: DataFrame) -> dict[str, int]:
    """Sessions labelled by verdicts, by kind: ``{"true_positive": n, "false_positive": m}``."""
    if VERDICT_LABEL not in features_df.columns:
        return dict.fromkeys(VERDICT_VALUES, 0)
    row = features_df.agg(
        *[F.count(F.when(F.col(VERDICT_LABEL) == v, 1)).alias(k) for k, v in VERDICT_VALUES.items()]
    ).first()
    return {k: int(row[k]) for k in VERDICT_VALUES}


def without_confirmed_bots(df: DataFrame) -> DataFrame:
    """The sessions an anomaly ensemble with ``fit_on: all`` learns as normal: all but those
    an analyst confirmed as bots (true-positive verdicts), which would teach it that they are
    normal."""
    if VERDICT_LABEL not in df.columns:
        return df
    return df.where(F.coalesce(F.col(VERDICT_LABEL) != 1.0, F.lit(True)))
