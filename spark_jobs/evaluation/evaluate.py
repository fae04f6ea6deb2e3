"""``botwatch eval``: how well a use case finds bots in labelled logs, with the jobs' own code.

    botwatch eval --config CONFIG --out DIR [--labels config|weak] [--models config,gbt,...]
                  [--protocol cv --folds 5 --repeats 10 | --protocol time --split-at DATE]
                  [--target max_fpr=0.02,min_recall=0.98] [--logs GLOB]
    botwatch eval --protocol cross-site --train CONFIG_OR_GLOB... --test CONFIG_OR_GLOB...
                  --out DIR [--config MODEL_CONFIG] [--labels auto|config|weak]
    botwatch eval --protocol leave-one-site-out --sites CONFIG_OR_GLOB... --out DIR

The logs named by the config (or ``--logs``) are parsed, enriched and cut into sessions exactly
as the ingest and feature stages do, over the whole set at once (no data intervals: sessions
are not cut at midnight). Labels come from the config's label file (``--labels config``) or
from self-declared crawler user agents (``--labels weak``; the user agent is never a feature,
so this measures whether behaviour alone finds them). Each model variant named in
``--models`` is fit and scored under the protocol (see ``eval_protocols``), and the report
(evaluation.md, evaluation.json, pr_curves.png) goes to ``--out``. The cross-site protocols
(``evaluation.cross_site``) train on some sites' logs and test on others'.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spark_jobs.config.loading import load_usecase
from spark_jobs.errors import ConfigError
from spark_jobs.evaluation.inputs import MODEL_CHOICES, eval_spark, load_sessions, model_variant
from spark_jobs.evaluation.metrics import DEFAULT_MAX_FPRS

log = logging.getLogger("botwatch")

PROTOCOLS = ("cv", "time", "cross-site", "leave-one-site-out")
TARGET_KEYS = ("max_fpr", "min_recall", "min_pr_auc", "min_roc_auc", "min_precision", "min_f1")


def parse_target(text: str | None) -> dict[str, float] | None:
    """``max_fpr=0.02,min_recall=0.98`` -> {"max_fpr": 0.02, "min_recall": 0.98}."""
    if not text:
        return None
    target: dict[str, float] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in TARGET_KEYS:
            raise argparse.ArgumentTypeError(
                f"target clause {part!r}: expected KEY=VALUE with KEY one of {', '.join(TARGET_KEYS)}"
            )
        target[key] = float(value)
    return target


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="botwatch eval", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", help="use-case YAML (cross-site: whose model; default the first site)"
    )
    parser.add_argument("--out", required=True, help="folder for the report")
    parser.add_argument("--logs", help="log files glob (default: the config's source.path)")
    parser.add_argument(
        "--labels",
        choices=("config", "weak", "auto"),
        help="default: config; cross-site: auto (a site's label file if any, else weak)",
    )
    parser.add_argument(
        "--models", default="config", help=f"comma-separated, of {', '.join(MODEL_CHOICES)}"
    )
    parser.add_argument("--protocol", choices=PROTOCOLS, default="cv")
    site_help = "a site's use-case YAML or a glob of them; repeatable"
    parser.add_argument("--train", action="append", help=f"cross-site: {site_help}")
    parser.add_argument("--test", action="append", help=f"cross-site: {site_help}")
    parser.add_argument("--sites", action="append", help=f"leave-one-site-out: {site_help}")
    parser.add_argument(
        "--per-site-cap",
        type=int,
        default=20_000,
        help="cross-site: at most N training sessions per site (0: all)",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-at", help="time protocol: first instant of the test period")
    parser.add_argument("--max-fpr", type=float, action="append", help="repeatable")
    parser.add_argument("--target", type=parse_target, help="e.g. max_fpr=0.02,min_recall=0.98")
    parser.add_argument(
        "--min-requests", type=int, default=1, help="evaluate sessions with at least N requests"
    )
    parser.add_argument(
        "--sessions-cache", help="Parquet folder for the sessions; reused when it exists"
    )
    parser.add_argument(
        "--per-day",
        action="store_true",
        help="cut sessions and entity/client features at UTC midnight, as a daily DAG does",
    )
    parser.add_argument("--title", help="report title")
    return parser


def run(args: argparse.Namespace, argv: list[str]) -> Path:
    from pyspark.sql import functions as F

    from spark_jobs.evaluation import protocols
    from spark_jobs.evaluation.report import write_report
    from spark_jobs.models import labels
    from spark_jobs.models.kinds import model_kind

    if args.protocol in ("cross-site", "leave-one-site-out"):
        from spark_jobs.evaluation.sites import run_cross_site

        return run_cross_site(args, argv)
    if not args.config:
        raise ConfigError(f"--protocol {args.protocol} needs --config")
    args.labels = args.labels or "config"
    usecase = load_usecase(args.config)
    spark = eval_spark(usecase)
    sessions, counts = load_sessions(spark, usecase, args.logs, args.sessions_cache, args.per_day)
    sessions = sessions.where(F.col("requests") >= args.min_requests).persist()
    label_cfg = model_variant(usecase, "config", args.labels)
    if label_cfg.labels is None and not label_cfg.weak_labels:
        raise ConfigError(f"{args.config}: model.labels: no label file; use --labels weak")
    labelled, summary = labels.training_labels(spark, sessions, label_cfg)
    labelled = labelled.persist()
    counts |= {"sessions": sessions.count(), "labelled_sessions": summary}
    max_fprs = sorted(set(args.max_fpr or DEFAULT_MAX_FPRS))
    tasks = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        if name not in MODEL_CHOICES:
            raise SystemExit(f"botwatch eval: unknown model {name!r}; known: {MODEL_CHOICES}")
        cfg = model_variant(usecase, name, args.labels)
        label = model_kind(cfg.kind).describe(cfg)
        log.info("evaluating %s (%s %s)", name, cfg.kind, label)
        if args.protocol == "cv":
            results = protocols.cross_validate(
                sessions, labelled, usecase.features, cfg, args.folds, args.repeats, args.seed
            )
            how = f"{args.folds}-fold stratified CV x {args.repeats} repeats"
        else:
            if not args.split_at:
                raise SystemExit("botwatch eval: --protocol time needs --split-at")
            split = datetime.fromisoformat(args.split_at).replace(tzinfo=UTC)
            results = protocols.time_split(sessions, labelled, usecase.features, cfg, split)
            how = f"trained before {split:%Y-%m-%d}, tested from it on"
        tasks.append(
            protocols.task_result(
                f"{cfg.kind} {label}",
                f"{usecase.id}: {cfg.kind} {label}, labels {args.labels}, {how}",
                results,
                usecase.threshold,
                max_fprs,
                args.target,
            )
        )
    meta: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "command": "botwatch eval " + shlex.join(argv),
        "config": str(args.config),
        "use_case": usecase.id,
        "entity": usecase.entity.model_dump(mode="json"),
        "features": list(usecase.features),
        "threshold": usecase.threshold,
        "data": counts,
    }
    title = args.title or f"Evaluation of {usecase.id}"
    paths = write_report(args.out, title, tasks, meta)
    return paths.markdown


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        report = run(args, argv)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"botwatch eval: {exc}", file=sys.stderr)
        return 2
    print(Path(report).read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
