"""``botwatch eval --protocol cross-site | leave-one-site-out`` end to end on two toy sites."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from spark_jobs.evaluation import evaluate

T0 = datetime(2015, 5, 17, 10, tzinfo=UTC)
CRAWLER = "Googlebot/2.1 (+http://www.google.com/bot.html)"


def _logs(pages_per_person: int, bot_pages: int, offset: int) -> str:
    """Six people reading a few pages slowly, six declared crawlers walking many pages fast."""
    lines = []
    for c in range(12):
        bot = c >= 6
        client, ua = f"10.{offset}.0.{c}", (CRAWLER if bot else "Mozilla/5.0")
        when = T0 + timedelta(minutes=c)
        for i in range(bot_pages if bot else pages_per_person):
            when += timedelta(seconds=1 if bot else 40 + 7 * i)
            path = f"/item/{i}" if bot else f"/page/{i % 2}"
            ref = "-" if bot else "http://shop.example/"
            stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
            lines.append(f'{client} - - [{stamp}] "GET {path} HTTP/1.1" 200 512 "{ref}" "{ua}"\n')
    return "".join(lines)


def _site(tmp, name: str, text: str) -> str:
    (tmp / f"{name}.log").write_text(text)
    config = tmp / "sites" / f"{name}.yaml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(
        f"""
id: {name}
description: toy site {name}
start_date: 2015-05-17
source: {{path: '{tmp}/{name}.log', format: combined}}
entity: {{key: client_user_agent}}
features: [requests, requests_per_minute, distinct_path_ratio, no_referrer_share, iat_mean]
model: {{kind: supervised, algorithm: logistic_regression, weak_labels: true}}
threshold: 50
"""
    )
    return str(config)


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sites")
    # The same behaviour on two scales: the second site's visits are three times longer.
    return tmp, _site(tmp, "small", _logs(3, 20, 1)), _site(tmp, "large", _logs(9, 60, 2))


def _report(out) -> dict:
    return json.loads((out / "evaluation.json").read_text())


@pytest.mark.spark
def test_leave_one_site_out_scores_every_site_with_a_model_of_the_other(spark, sites):
    tmp, *_ = sites
    out = tmp / "loso"
    argv = ["--protocol", "leave-one-site-out", "--sites", f"{tmp}/sites/*.yaml",
            "--sessions-cache", str(tmp / "cache"), "--out", str(out)]  # fmt: skip
    assert evaluate.main(argv) == 0
    doc = _report(out)
    tasks = {t["name"]: t for t in doc["tasks"]}
    assert set(tasks) == {"supervised logistic_regression on large",
                          "supervised logistic_regression on small"}  # fmt: skip
    small = tasks["supervised logistic_regression on small"]
    assert small["description"].endswith("trained on large; tested on small (weak labels)")
    assert (small["metrics"]["positives"], small["metrics"]["negatives"]) == (6, 6)
    # Crawlers differ from people in pace and referrers on both sites: the ranking transfers.
    assert small["metrics"]["roc_auc"] == pytest.approx(1.0)
    assert doc["meta"]["data"]["large"]["labelled_sessions"]["positives"] == 6


@pytest.mark.spark
def test_cross_site_trains_on_one_list_and_tests_on_the_other(spark, sites):
    tmp, small, large = sites
    out = tmp / "cross"
    argv = ["--protocol", "cross-site", "--train", small, "--test", large, "--config", small,
            "--sessions-cache", str(tmp / "cache"), "--out", str(out)]  # fmt: skip
    assert evaluate.main(argv) == 0
    (task,) = _report(out)["tasks"]
    assert task["name"] == "supervised logistic_regression on large"
    assert task["metrics"]["n"] == 12


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--protocol", "cross-site", "--train", "x.yaml"], "needs --test"),
        (["--protocol", "leave-one-site-out"], "needs --sites"),
        (
            ["--protocol", "leave-one-site-out", "--sites", "/nowhere/*.yaml"],
            "no use-case config matches",
        ),
        (["--protocol", "cv"], "needs --config"),
    ],
)
def test_a_missing_or_empty_site_list_is_one_line(tmp_path, capsys, extra, message):
    assert evaluate.main([*extra, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
