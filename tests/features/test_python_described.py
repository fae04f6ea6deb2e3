"""User agents described once per distinct value, and remembered across runs in the lake."""

from __future__ import annotations

import shutil

from pyspark.testing import assertDataFrameEqual

from spark_jobs.features.python_described import (
    describe_user_agent,
    remembered_agents,
    with_user_agent_fields,
)

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CURL = "curl/8.4.0"


def _agents(spark, *agents):
    return spark.createDataFrame([(a,) for a in agents], "user_agent string")


def _parts(folder):
    return sorted(p for p in folder.iterdir() if p.name.startswith("part="))


def test_a_later_run_describes_only_the_agents_it_has_not_seen(spark, tmp_path):
    folder = tmp_path / "user_agents"
    first = remembered_agents(spark, _agents(spark, GOOGLEBOT, FIREFOX, FIREFOX, None), str(folder))
    assert first.count() == 2
    second = remembered_agents(spark, _agents(spark, FIREFOX, CURL), str(folder))
    assert sorted(r[0] for r in second.collect()) == sorted([CURL, FIREFOX])
    written = [spark.read.parquet(str(p)).count() for p in _parts(folder)]
    assert sorted(written) == [1, 2]  # curl was the only agent the second run described


def test_remembered_and_fresh_descriptions_are_the_same_columns(spark, tmp_path):
    df = _agents(spark, GOOGLEBOT, CURL, None)
    fresh = with_user_agent_fields(df)
    remembered = with_user_agent_fields(
        df, described=remembered_agents(spark, df, str(tmp_path / "ua"))
    )
    assertDataFrameEqual(remembered, fresh)
    bot = next(r for r in remembered.collect() if r.user_agent == GOOGLEBOT)
    assert bot.is_declared_crawler == describe_user_agent(GOOGLEBOT)["is_declared_crawler"]


def test_two_runs_that_added_the_same_agent_still_give_one_row(spark, tmp_path):
    folder = tmp_path / "ua"
    df = _agents(spark, CURL)
    remembered_agents(spark, df, str(folder))
    # what a concurrent run that had not seen the first one's part would have added
    [part] = _parts(folder)
    shutil.copytree(part, folder / "part=concurrent")
    again = remembered_agents(spark, df, str(folder))
    assert [r[0] for r in again.collect()] == [CURL]
