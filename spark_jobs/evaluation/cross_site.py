"""``botwatch eval --protocol cross-site | leave-one-site-out``: train on some sites, test on others.

A new user's site is one no model has seen: its page weight, traffic level and crawler mix are
its own. Cross-validation inside one site cannot tell whether what a model learnt transfers;
these protocols can, because no session of the test site is ever in training:

* ``cross-site``: fit once on the pooled ``--train`` sites, score each ``--test`` site;
* ``leave-one-site-out``: for each of ``--sites``, fit on all the others and score it.

A *site* is a use-case config (``bench/eval/*.yaml``): its logs, format, entity and labels. Its
labels are its label file when it has one, else its self-declared crawlers (weak labels), unless
``--labels`` says otherwise. Each training site contributes at most ``--per-site-cap`` sessions
(a random sample, seeded), so the biggest site does not decide what "a bot" is for the others.
The model, its features and the alert threshold are those of ``--config`` (default: the first
site named), applied to every site alike.
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.config.model import ModelConfig
from spark_jobs.config.usecase import UseCase
from spark_jobs.errors import ConfigError
from spark_jobs.evaluation.protocols import Scored, scored
from spark_jobs.features.behaviour import SESSION_COLUMNS
from spark_jobs.models.kinds import model_kind
from spark_jobs.models.labels import LABEL

log = logging.getLogger("botwatch")
SITE = "site"


@dataclass
class Site:
    """One site's sessions, its labelled sessions and the counts of how they were made."""

    name: str
    config: str
    usecase: UseCase
    label_mode: str
    sessions: DataFrame
    labelled: DataFrame
    counts: dict[str, Any]


def expand_configs(patterns: Sequence[str]) -> list[str]:
    """Config paths of ``patterns`` (paths or globs), in order, each once. A pattern that
    matches no file is an error naming it: a typo must not shrink the evaluation silently.
    Files whose name starts with ``_`` (``_defaults.yaml``) are not sites."""
    paths: list[str] = []
    for pattern in patterns:
        matched = sorted(p for p in glob.glob(pattern) if not Path(p).name.startswith("_"))
        if not matched:
            raise ConfigError(f"{pattern}: no use-case config matches")
        paths += [p for p in matched if p not in paths]
    return paths


def label_mode(usecase: UseCase, requested: str) -> str:
    """``auto``: the site's label file when its config has one, else weak labels."""
    if requested != "auto":
        return requested
    return "config" if usecase.model.labels is not None else "weak"


def _site_rows(df: DataFrame, name: str, features: Sequence[str]) -> DataFrame:
    """The columns every site shares, so sites union by name; ``site`` says whose they are."""
    keep = [c for c in (*SESSION_COLUMNS, *features, LABEL) if c in df.columns]
    return df.select(*keep).withColumn(SITE, F.lit(name))


def capped(df: DataFrame, cap: int | None, seed: int) -> DataFrame:
    """At most about ``cap`` rows of ``df``, a seeded random sample (all of them when fewer)."""
    if not cap:
        return df
    total = df.count()
    return df if total <= cap else df.sample(fraction=cap / total, seed=seed)


def pooled_training(
    sites: Sequence[Site], cfg: ModelConfig, features: Sequence[str], cap: int | None, seed: int
) -> DataFrame:
    """What the kind fits on, from every training site: labelled sessions for a kind that
    learns from labels, else all sessions (labels kept for nothing but the record)."""
    learns = model_kind(cfg.kind).learns_from_labels
    parts = [
        capped(_site_rows(s.labelled if learns else s.sessions, s.name, features), cap, seed)
        for s in sites
    ]
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), parts)


def fit_and_score(
    train: Sequence[Site],
    test: Sequence[Site],
    features: Sequence[str],
    cfg: ModelConfig,
    cap: int | None = None,
    seed: int = 0,
) -> dict[str, Scored]:
    """Fit once on the pooled ``train`` sites; out-of-site scores of each ``test`` site's
    labelled sessions, by site name."""
    overlap = {s.name for s in train} & {s.name for s in test}
    if overlap:
        raise ConfigError(f"site(s) {', '.join(sorted(overlap))} both in --train and --test")
    pool = pooled_training(train, cfg, features, cap, seed)
    model = model_kind(cfg.kind).fit(pool, features, cfg)
    results = {}
    for site in test:
        results[site.name] = scored(model, site.labelled)
        log.info("%s: %d sessions scored by a model of %s", site.name,
                 len(results[site.name].labels), ", ".join(s.name for s in train))  # fmt: skip
    return results


def leave_one_site_out(
    sites: Sequence[Site],
    features: Sequence[str],
    cfg: ModelConfig,
    cap: int | None = None,
    seed: int = 0,
) -> dict[str, Scored]:
    """Each site scored by a model fit on all the other sites."""
    if len(sites) < 2:
        raise ConfigError("leave-one-site-out needs at least two sites")
    results = {}
    for held_out in sites:
        others = [s for s in sites if s.name != held_out.name]
        results |= fit_and_score(others, [held_out], features, cfg, cap, seed)
    return results
