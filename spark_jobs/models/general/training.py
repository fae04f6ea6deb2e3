"""``botwatch train-general``: fit the shipped general bot model and write its data card.

    botwatch train-general --sites 'bench/eval/sites/*.yaml' --config bench/eval/general.yaml \
        --sessions-cache /tmp/general-cache --per-day

A maintainer's command (it needs scikit-learn, in the ``dev`` group), run when the features or
the dev data sets change; users only read its output, committed under ``models/general/data/``.
Each site (a ``bench/eval/sites`` config) gives its labelled sessions exactly as
``botwatch eval`` makes them; at most ``--per-site-cap`` per site are kept, and sample weights
give every site the same total weight, split evenly between its bots and its people: the model
learns what bots do on *any* site, not what aircare's crawlers do. Before the final fit on all
sites, the same recipe is run leave-one-site-out, and those out-of-site figures are the card's
metrics: what a user whose site is none of these can expect.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from spark_jobs.errors import ConfigError
from spark_jobs.evaluation.metrics import DEFAULT_MAX_FPRS, compute_metrics
from spark_jobs.models.general import card as data_card
from spark_jobs.models.general.forest import Forest, from_sklearn
from spark_jobs.models.general.registry import DATA_DIR, DEFAULT_MODEL

log = logging.getLogger("botwatch")
THRESHOLD = 50.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="botwatch train-general", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sites", action="append", required=True, help="site configs or globs")
    parser.add_argument(
        "--holdout", action="append", default=[],
        help="site configs never trained on, only scored by the final model (the card says how)",
    )  # fmt: skip
    parser.add_argument("--config", required=True, help="use case whose features the model reads")
    parser.add_argument("--name", default=DEFAULT_MODEL, help="model name (file name)")
    parser.add_argument("--out-dir", default=None, help=f"default: the package's {DATA_DIR}")
    parser.add_argument("--per-site-cap", type=int, default=20_000)
    parser.add_argument("--trees", type=int, default=60)
    parser.add_argument("--max-depth", type=int, default=10)
    parser.add_argument("--min-leaf", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sessions-cache", help="Parquet cache of each site's sessions")
    parser.add_argument("--per-day", action="store_true", help="cut sessions at UTC midnight")
    parser.add_argument("--min-requests", type=int, default=1)
    return parser


def site_frames(
    args: argparse.Namespace, features: list[str], patterns: list[str]
) -> dict[str, Any]:
    """Site name -> pandas frame of its capped labelled sessions (features and ``label``)."""
    from spark_jobs.config.loading import load_usecase
    from spark_jobs.evaluation.cross_site import capped, expand_configs
    from spark_jobs.evaluation.inputs import eval_spark
    from spark_jobs.evaluation.sites import load_site

    args.labels = "auto"
    paths = expand_configs(patterns)
    spark = eval_spark(load_usecase(paths[0]))
    frames = {}
    for path in paths:
        site = load_site(spark, path, args)
        rows = capped(site.labelled, args.per_site_cap, args.seed).select(*features, "label")
        frames[site.name] = rows.toPandas()
        log.info("%s: %d labelled sessions kept", site.name, len(frames[site.name]))
    return frames


def _weights(labels: np.ndarray) -> np.ndarray:
    """Per row: half of the site's weight to its bots, half to its people."""
    weights = np.zeros(len(labels))
    for value in (0, 1):
        mask = labels == value
        weights[mask] = 0.5 / max(mask.sum(), 1)
    return weights


def fit(frames: dict[str, Any], features: list[str], args: argparse.Namespace) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    x = np.vstack([np.nan_to_num(f[features].to_numpy(np.float64)) for f in frames.values()])
    y = np.concatenate([f["label"].to_numpy().astype(int) for f in frames.values()])
    w = np.concatenate([_weights(f["label"].to_numpy().astype(int)) for f in frames.values()])
    model = RandomForestClassifier(
        n_estimators=args.trees, max_depth=args.max_depth, min_samples_leaf=args.min_leaf,
        max_features="sqrt", n_jobs=-1, random_state=args.seed,
    )  # fmt: skip
    return model.fit(x, y, sample_weight=w * len(y))


def out_of_site(frames: dict[str, Any], features: list[str], args) -> dict[str, dict]:
    """Per site: the metrics of the recipe fit on every other site and scored on this one."""
    results = {}
    for held_out, frame in frames.items():
        others = {k: v for k, v in frames.items() if k != held_out}
        forest = from_sklearn(fit(others, features, args), "loso", features, {})
        results |= scored_by(forest, {held_out: frame})
        metrics = results[held_out]
        log.info("out of site %s: PR-AUC %s ROC-AUC %s", held_out, metrics["pr_auc"],
                 metrics["roc_auc"])  # fmt: skip
    return results


def scored_by(forest: Forest, frames: dict[str, Any]) -> dict[str, dict]:
    """Metrics of ``forest`` on each frame (sites it never saw)."""
    results = {}
    for name, frame in frames.items():
        p, _ = forest.predict(forest.matrix({f: frame[f] for f in forest.features}))
        labels = frame["label"].astype(int).tolist()
        results[name] = compute_metrics(labels, (100.0 * p).tolist(), THRESHOLD,
                                        DEFAULT_MAX_FPRS).to_dict()  # fmt: skip
    return results


def run(args: argparse.Namespace, argv: list[str]) -> tuple[Path, Path]:
    from spark_jobs.config.loading import load_usecase

    try:
        import sklearn
    except ImportError:
        raise ConfigError("train-general needs scikit-learn: uv sync --group dev") from None
    features = list(load_usecase(args.config).features)
    frames = site_frames(args, features, args.sites)
    holdout = site_frames(args, features, args.holdout) if args.holdout else {}
    loso = out_of_site(frames, features, args)
    final = fit(frames, features, args)
    importances = dict(zip(features, final.feature_importances_.round(4).tolist(), strict=True))
    card = {
        "name": args.name,
        "trained": datetime.now(UTC).strftime("%Y-%m-%d"),
        "command": "botwatch train-general " + shlex.join(argv),
        "scikit_learn": sklearn.__version__,
        "params": {k: getattr(args, k) for k in ("trees", "max_depth", "min_leaf", "seed",
                                                 "per_site_cap", "per_day", "min_requests")},
        "threshold": THRESHOLD,
        "sites": {name: {"sessions": len(f), "bots": int(f["label"].sum())}
                  for name, f in frames.items()},
        "out_of_site": loso,
        "importance": importances,
    }  # fmt: skip
    sites_only = from_sklearn(final, args.name, features, {})
    card["held_out"] = scored_by(sites_only, holdout)
    card["held_out_sites"] = {name: {"sessions": len(f), "bots": int(f["label"].sum())}
                              for name, f in holdout.items()}  # fmt: skip
    forest = from_sklearn(final, args.name, features, card)
    out = Path(args.out_dir) if args.out_dir else Path(str(DATA_DIR))
    out.mkdir(parents=True, exist_ok=True)
    model_path, card_path = out / f"{args.name}.json", out / f"{args.name}.md"
    model_path.write_text(forest.to_json(), encoding="utf-8")
    card_path.write_text(data_card.render(card, features), encoding="utf-8")
    return model_path, card_path


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        model_path, card_path = run(args, argv)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"botwatch train-general: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {model_path} and its data card {card_path}")
    return 0
