"""Running the cross-site protocols of ``botwatch eval``: load each site, fit, score, report.

Each site's sessions are made exactly as for the one-site protocols (``inputs.load_sessions``:
the jobs' parsing, enrichment and ``session_features``), cached per site under
``--sessions-cache DIR/<use case id>`` so that a leave-one-site-out run over every dev data set
parses each log once across runs.
"""

from __future__ import annotations

import argparse
import logging
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import functions as F

from spark_jobs.config.loading import load_usecase
from spark_jobs.config.usecase import UseCase
from spark_jobs.errors import ConfigError
from spark_jobs.evaluation import cross_site
from spark_jobs.evaluation.cross_site import Site
from spark_jobs.evaluation.metrics import DEFAULT_MAX_FPRS
from spark_jobs.evaluation.protocols import task_result
from spark_jobs.models import labels
from spark_jobs.models.kinds import model_kind

log = logging.getLogger("botwatch")


def load_site(spark: Any, path: str, args: argparse.Namespace) -> Site:
    """One site's sessions (cached) and its labelled sessions, persisted for the folds."""
    from spark_jobs.evaluation.inputs import load_sessions, model_variant

    usecase = load_usecase(path)
    # Sessions keyed by a session id are never cut (their labels are per id).
    daily = args.per_day and usecase.entity.session_gap_minutes is not None
    cache = None
    if args.sessions_cache:
        cache = f"{args.sessions_cache.rstrip('/')}/{usecase.id}{'-daily' if daily else ''}"
    sessions, counts = load_sessions(spark, usecase, None, cache, daily)
    sessions = sessions.where(F.col("requests") >= args.min_requests).persist()
    mode = cross_site.label_mode(usecase, args.labels or "auto")
    cfg = model_variant(usecase, "config", mode)
    if cfg.labels is None and not cfg.weak_labels:
        raise ConfigError(f"{path}: model.labels: no label file; use --labels weak or auto")
    labelled, summary = labels.training_labels(spark, sessions, cfg)
    counts |= {"sessions": sessions.count(), "labels": mode, "labelled_sessions": summary}
    log.info("site %s: %s", usecase.id, counts)
    return Site(usecase.id, path, usecase, mode, sessions, labelled.persist(), counts)


def _load(spark: Any, patterns: list[str], args: argparse.Namespace) -> list[Site]:
    return [load_site(spark, p, args) for p in cross_site.expand_configs(patterns)]


def _model_usecase(args: argparse.Namespace, first_site: Site) -> tuple[str, UseCase]:
    """The use case whose model, features and threshold are evaluated."""
    if args.config:
        return args.config, load_usecase(args.config)
    return first_site.config, first_site.usecase


def run_cross_site(args: argparse.Namespace, argv: list[str]) -> Path:
    """``--protocol cross-site`` or ``leave-one-site-out``; returns the report's markdown."""
    from spark_jobs.evaluation.inputs import MODEL_CHOICES, eval_spark, model_variant
    from spark_jobs.evaluation.report import write_report

    loso = args.protocol == "leave-one-site-out"
    needed = {"--sites": args.sites} if loso else {"--train": args.train, "--test": args.test}
    for flag, value in needed.items():
        if not value:
            raise ConfigError(f"--protocol {args.protocol} needs {flag} CONFIG_OR_GLOB ...")
    first = args.config or cross_site.expand_configs(args.sites if loso else args.train)[0]
    spark = eval_spark(load_usecase(first))
    train = _load(spark, args.sites if loso else args.train, args)
    test = train if loso else _load(spark, args.test, args)
    config_path, usecase = _model_usecase(args, train[0])
    max_fprs = sorted(set(args.max_fpr or DEFAULT_MAX_FPRS))
    tasks = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        if name not in MODEL_CHOICES:
            raise ConfigError(f"unknown model {name!r}; known: {', '.join(MODEL_CHOICES)}")
        cfg = model_variant(usecase, name, "config")
        label = f"{cfg.kind} {model_kind(cfg.kind).describe(cfg)}"
        if loso:
            scored = cross_site.leave_one_site_out(
                train, usecase.features, cfg, args.per_site_cap, args.seed
            )
        else:
            scored = cross_site.fit_and_score(
                train, test, usecase.features, cfg, args.per_site_cap, args.seed
            )
        for site in test:
            trained_on = [s.name for s in train if s.name != site.name]
            how = f"trained on {', '.join(trained_on)}; tested on {site.name} ({site.label_mode} labels)"
            tasks.append(task_result(f"{label} on {site.name}", f"{label}: {how}",
                                     [scored[site.name]], usecase.threshold, max_fprs,
                                     args.target))  # fmt: skip
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "command": "botwatch eval " + shlex.join(argv),
        "config": config_path,
        "use_case": usecase.id,
        "protocol": args.protocol,
        "per_site_cap": args.per_site_cap,
        "features": list(usecase.features),
        "threshold": usecase.threshold,
        "data": {s.name: s.counts for s in [*train, *test]},
    }
    title = args.title or f"Cross-site evaluation ({args.protocol}) of {usecase.id}'s model"
    return write_report(args.out, title, tasks, meta).markdown
