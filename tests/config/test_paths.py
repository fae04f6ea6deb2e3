"""Env references, interval placeholders and path resolution of ``spark_jobs.config.paths``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spark_jobs.config.paths import (
    any_interval,
    expand_env,
    interval_paths,
    project_home,
    resolve_path,
)


def test_expand_env_without_default_names_the_variable(monkeypatch):
    monkeypatch.delenv("BOTWATCH_NOPE", raising=False)
    with pytest.raises(ValueError, match="BOTWATCH_NOPE"):
        expand_env("${BOTWATCH_NOPE}/x")


def test_expand_env_uses_the_default_for_an_unset_or_empty_variable(monkeypatch):
    monkeypatch.setenv("BOTWATCH_EMPTY", "")
    assert expand_env("${BOTWATCH_EMPTY:-a}/${HOME_OF_NOBODY:-b}") == "a/b"


def test_resolve_path_keeps_uris_and_absolute_paths(tmp_path):
    assert resolve_path("s3a://bucket/logs/*", tmp_path) == "s3a://bucket/logs/*"
    assert resolve_path("/var/log/x", tmp_path) == "/var/log/x"
    assert resolve_path("logs/x", tmp_path) == str(tmp_path / "logs/x")


def test_hourly_placeholders_give_one_path_per_hour():
    start, end = datetime(2024, 1, 1, 22, 30, tzinfo=UTC), datetime(2024, 1, 2, 1, tzinfo=UTC)
    paths = interval_paths("in/{day:%d}/{hour:%H}/*-{start:%Y}", start, end)
    assert paths == ["in/01/22/*-2024", "in/01/23/*-2024", "in/02/00/*-2024"]
    assert any_interval("in/{day:%d}/{hour:%H}/*-{start:%Y}") == "in/*/*/*-*"


def test_daily_placeholders_start_at_midnight():
    start, end = datetime(2024, 1, 1, 6, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)
    assert interval_paths("in/{day:%d}", start, end) == ["in/01", "in/02"]


def test_project_home_marker_search_and_fallback(tmp_path, monkeypatch):
    monkeypatch.delenv("BOTWATCH_HOME", raising=False)
    (tmp_path / "proj" / "expectations").mkdir(parents=True)
    (tmp_path / "proj" / "deep" / "er").mkdir(parents=True)
    assert project_home(tmp_path / "proj" / "deep" / "er" / "x.yaml") == tmp_path / "proj"
    assert project_home(tmp_path / "proj" / "x.yaml") == tmp_path / "proj"
    monkeypatch.chdir(tmp_path / "proj" / "deep")
    assert project_home(tmp_path / "x.yaml") == tmp_path / "proj" / "deep"
    assert project_home() == tmp_path / "proj" / "deep"


@pytest.mark.parametrize(
    ("path", "problems"),
    [
        ("logs/{start:%Y-%m-%d}/{hour:%H}/*.gz", []),
        ("logs/{a,b}/{day:%Y/%m/%d}/*", []),
        ("${LOGS:-/var/log}/x", []),
        ("logs/{start}.gz", ["{start} needs a date format, e.g. {start:%Y-%m-%d}"]),
        ("${LOGS:/var/log}/x", ["${LOGS:/var/log}: a default is written ${LOGS:-/var/log}"]),
        (
            "logs/{hours:%H}",
            ["unknown placeholder {hours:%H}; did you mean {hour:%H}? known: {start:FORMAT}, "
             "{end:FORMAT}, {hour:FORMAT}, {day:FORMAT}"],
        ),
        (
            "logs/{until:%Y}",
            ["unknown placeholder {until:%Y}; did you mean {end:%Y}? known: {start:FORMAT}, "
             "{end:FORMAT}, {hour:FORMAT}, {day:FORMAT}"],
        ),
    ],
)  # fmt: skip
def test_placeholder_problems(path, problems):
    from spark_jobs.config.paths import placeholder_problems

    assert placeholder_problems(path) == problems


def test_unset_env_vars_are_those_without_default(monkeypatch):
    from spark_jobs.config.paths import unset_env_vars

    monkeypatch.setenv("BOTWATCH_SET", "x")
    monkeypatch.setenv("BOTWATCH_EMPTY", "")
    monkeypatch.delenv("BOTWATCH_UNSET", raising=False)
    text = "${BOTWATCH_SET}/${BOTWATCH_EMPTY}/${BOTWATCH_UNSET}/${BOTWATCH_UNSET:-d}"
    assert unset_env_vars(text) == ["BOTWATCH_EMPTY", "BOTWATCH_UNSET"]


def test_local_paths_are_normalised_as_spark_names_the_files_it_reads():
    # The source store matches Spark's file names (normalised) with the glob's: a `..` in a
    # config's path (../shared/logs/*) made ingest fail with a KeyError on the file's name.
    assert resolve_path("../shared/logs/*.gz", "/work/main") == "/work/shared/logs/*.gz"
    assert resolve_path("/data/./logs/../x/{a,b}.log") == "/data/x/{a,b}.log"
    assert resolve_path("s3a://bucket/a/../b/*.gz") == "s3a://bucket/a/../b/*.gz"
