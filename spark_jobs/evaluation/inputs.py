"""What every protocol of ``botwatch eval`` starts from: a site's sessions, and model variants.

Kept apart from the command (``evaluate``) and the cross-site runner (``sites``), which both
build on it, so neither imports the other.
"""

from __future__ import annotations

import logging
from typing import Any

from spark_jobs.config.model import ALGORITHMS, ModelConfig
from spark_jobs.config.usecase import UseCase

log = logging.getLogger("botwatch")

#: ``--models`` name -> what it changes in the config's model (after ``--labels``).
VARIANTS: dict[str, dict[str, Any]] = {
    "config": {},
    "unsupervised": {"kind": "unsupervised"},
    # The ensemble fit on what the shipped general model judges human.
    "unsupervised_human": {"kind": "unsupervised", "fit_on": "human"},
    # The shipped general model alone (no local labels, so no blend) ...
    "pretrained": {"kind": "pretrained", "labels": None, "weak_labels": False},
    # ... and blended with a local classifier on the labels (``--labels``).
    "pretrained_blend": {"kind": "pretrained"},
    **{name: {"kind": "supervised", "algorithm": name} for name in ALGORITHMS},
}
MODEL_CHOICES = tuple(VARIANTS)


def model_variant(usecase: UseCase, name: str, label_mode: str) -> ModelConfig:
    """The model config evaluated as ``name``; its labels follow ``--labels``."""
    cfg = usecase.model
    if label_mode == "weak":
        cfg = cfg.model_copy(update={"labels": None, "weak_labels": True})
    return cfg.model_copy(update=VARIANTS[name])


def eval_spark(usecase: UseCase):
    """A local session with the use case's Spark conf and room for a whole data set's sessions."""
    from spark_jobs.session import spark_session

    conf = {**usecase.spark, "spark.driver.memory": "4g"}
    return spark_session(f"botwatch-eval-{usecase.id}", "local", conf)


def per_day(parsed):
    """Make every client and session id a per-UTC-day one (``1.2.3.4@2015-05-17``), so that
    sessions, entities and per-client features cover one day, as in a daily DAG's intervals."""
    from pyspark.sql import functions as F

    day = F.date_format("ts", "yyyy-MM-dd")
    return parsed.withColumns(
        {c: F.when(F.col(c).isNotNull(), F.concat(F.col(c), F.lit("@"), day))
         for c in ("client", "session_id")}
    )  # fmt: skip


def load_sessions(spark, usecase: UseCase, logs: str | None, cache: str | None, daily: bool):
    """Session features of every log line the config reads, and the pipeline's counts."""
    from pyspark.sql import functions as F

    from spark_jobs.features.behaviour import session_features
    from spark_jobs.features.enrichment import enrich
    from spark_jobs.features.relative import with_relative_features
    from spark_jobs.lake import storage
    from spark_jobs.parsing.files import parse_files
    from spark_jobs.parsing.schema import PARSED_SCHEMA
    from spark_jobs.parsing.sources import list_files

    if cache and storage.exists(spark, f"{cache}/_SUCCESS"):
        log.info("reusing sessions in %s", cache)
        return spark.read.parquet(cache), storage.read_json(spark, f"{cache}.counts.json")
    src, ent = usecase.source, usecase.entity
    glob = usecase.resolve(logs) if logs else usecase.source_glob_all()
    files = list_files(spark, glob)
    parsed_source = parse_files(spark, files, src.format_spec, None, src.log_timezone,
                                src.json_fields)  # fmt: skip
    try:
        parsed = parsed_source.lines.where(F.col("reason").isNull())
        rows = enrich(parsed.select(*PARSED_SCHEMA.fieldNames()))
        rows = per_day(rows) if daily else rows
        sessions = session_features(rows, ent.key, usecase.timezone, ent.session_gap_minutes)
        # Percentiles within what a DAG run sees: one day's sessions (--per-day), else all.
        population = F.to_date("session_start") if daily else None
        sessions = with_relative_features(sessions, population)
        target = cache or f"/tmp/botwatch-eval-{usecase.id}-sessions"
        sessions.write.mode("overwrite").parquet(target)
    finally:
        parsed_source.unpersist()
    counts = {
        "files": len(files),
        "read": sum(a.read for a in parsed_source.accounts),
        "parsed": sum(a.parsed for a in parsed_source.accounts),
        "quarantined": sum(a.quarantined for a in parsed_source.accounts),
        "format": parsed_source.format_name,
    }
    storage.write_json(spark, f"{target}.counts.json", counts)
    return spark.read.parquet(target), counts
