"""``botwatch eval`` end to end on a tiny labelled log: parse, sessions, labels, CV, report."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from spark_jobs.evaluation import evaluate

T0 = datetime(2015, 5, 17, 10, tzinfo=UTC)


def _line(client: str, when: datetime, path: str, referrer: str, ua: str) -> str:
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{client} - - [{stamp}] "GET {path} HTTP/1.1" 200 512 "{referrer}" "{ua}"\n'


def _logs() -> str:
    """Eight people reading a few pages slowly, eight scripts walking many pages fast."""
    lines = []
    for c in range(16):
        bot = c >= 8
        client, ua = f"10.0.0.{c}", ("fetch/1.0" if bot else "Mozilla/5.0")
        when = T0 + timedelta(minutes=c)
        for i in range(30 if bot else 4):
            when += timedelta(seconds=1 if bot else 40 + 7 * i)
            path = f"/item/{i}" if bot else f"/page/{i % 2}"
            lines.append(_line(client, when, path, "-" if bot else "http://shop.example/", ua))
    return "".join(lines)


@pytest.fixture(scope="module")
def report(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evaluate")
    (tmp / "access.log").write_text(_logs())
    labels = "key,label\n" + "".join(
        f"10.0.0.{c},{'bot' if c >= 8 else 'human'}\n" for c in range(16)
    )
    (tmp / "labels.csv").write_text(labels)
    config = tmp / "eval_toy.yaml"
    config.write_text(
        f"""
id: eval_toy
description: toy evaluation
start_date: 2015-05-17
source: {{path: '{tmp}/access.log', format: combined}}
features: [requests, requests_per_minute, distinct_path_ratio, no_referrer_share, iat_mean]
model:
  kind: supervised
  algorithm: logistic_regression
  labels: {{path: '{tmp}/labels.csv', match: entity}}
threshold: 50
"""
    )
    out = tmp / "report"
    argv = ["--config", str(config), "--out", str(out), "--folds", "2", "--repeats", "2",
            "--sessions-cache", str(tmp / "sessions"), "--target", "min_roc_auc=0.9"]  # fmt: skip
    assert evaluate.main(argv) == 0
    return out


def test_eval_writes_the_three_files(report):
    assert {p.name for p in report.iterdir()} == {
        "evaluation.md",
        "evaluation.json",
        "pr_curves.png",
    }
    assert "supervised logistic_regression" in (report / "evaluation.md").read_text()


def test_eval_counts_the_data_and_the_labels(report):
    doc = json.loads((report / "evaluation.json").read_text())
    data = doc["meta"]["data"]
    assert (data["read"], data["parsed"], data["quarantined"]) == (272, 272, 0)
    assert data["sessions"] == 16
    assert data["labelled_sessions"]["positives"] == 8
    assert data["labelled_sessions"]["negatives"] == 8
    assert doc["meta"]["command"].startswith("botwatch eval --config ")


def test_eval_cross_validates_and_checks_the_target(report):
    (task,) = json.loads((report / "evaluation.json").read_text())["tasks"]
    # Two repeats of 2-fold CV: every labelled session scored once per repeat.
    assert task["metrics"]["positives"] == 16 and task["metrics"]["negatives"] == 16
    assert task["cv"]["repeats"] == 2
    # Scripts and people are far apart on every feature: out-of-fold ranking is perfect.
    assert task["metrics"]["roc_auc"] == pytest.approx(1.0)
    assert task["target_met"] is True


def test_target_clauses_are_parsed_and_checked():
    assert evaluate.parse_target("max_fpr=0.02,min_recall=0.98") == {
        "max_fpr": 0.02,
        "min_recall": 0.98,
    }
    with pytest.raises(argparse.ArgumentTypeError, match="min_recal"):
        evaluate.parse_target("min_recal=0.9")
