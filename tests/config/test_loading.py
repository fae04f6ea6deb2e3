"""Config loading: shipped configs load; each broken config gives one line naming file, key,
reason; the project home is found as ``spark_jobs.config.paths`` documents."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from spark_jobs.config.loading import load_all, load_usecase
from spark_jobs.errors import ConfigError
from spark_jobs.features.catalog import FEATURE_NAMES
from tests.support.paths import BAD_CONFIGS, REPO

BAD = BAD_CONFIGS


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch):
    for name in ("BOTWATCH_HOME", "BOTWATCH_LAKE", "BOTWATCH_EXPECTATIONS_DIR", "BOTWATCH_LOGS"):
        monkeypatch.delenv(name, raising=False)


def test_every_shipped_config_validates():
    good, errors = load_all(REPO / "usecase_configs")
    assert errors == []
    assert {uc.id for _, uc in good} >= {"behavioural_bots"}


def test_defaults_are_merged_under_each_config():
    usecase = load_usecase(REPO / "usecase_configs" / "behavioural_bots.yaml")
    assert usecase.quality.suites == ["parsed_logs", "enriched_logs", "client_entity"]
    assert usecase.model.k == 6  # the use case's own value wins over the default 8
    assert "spark.sql.shuffle.partitions" in usecase.spark


@pytest.mark.parametrize(
    ("name", "key", "reason"),
    [
        ("unknown_key", "treshold", "unknown key"),
        ("missing_source", "source", "required key is missing"),
        ("unknown_feature", "features", "mouse_speed"),
        ("bad_cron", "schedule", "invalid cron expression"),
        ("threshold_range", "threshold", "less than or equal to 100"),
        ("bad_format", "source.format", "unknown format 'iis'"),
        ("broken_yaml", "line 3:", "invalid YAML"),
        ("unknown_suite", "quality.suites", "parsed_logz"),
        ("webhook_no_target", "alert.sinks.0.webhook", "give exactly one of url, url_env, conn_id"),
        ("bad_allowlist", "alert.allowlist.0.cidr", "not an IP address or network"),
    ],
)
def test_broken_config_gives_one_line_with_file_key_and_reason(
    tmp_path, monkeypatch, name, key, reason
):
    path = tmp_path / f"{name}.yaml"
    shutil.copy(BAD / f"{name}.yaml", path)
    monkeypatch.setenv("BOTWATCH_HOME", str(REPO))  # tmp_path is no project: the suites are here
    with pytest.raises(ConfigError) as info:
        load_usecase(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert key in message
    assert reason in message


def test_load_all_keeps_good_configs_beside_bad_ones(tmp_path):
    shutil.copy(REPO / "usecase_configs" / "behavioural_bots.yaml", tmp_path)
    shutil.copy(BAD / "unknown_key.yaml", tmp_path)
    shutil.copy(BAD / "bad_cron.yaml", tmp_path)
    good, errors = load_all(tmp_path)
    assert [uc.id for _, uc in good] == ["behavioural_bots"]
    assert len(errors) == 2
    assert all(line.startswith(str(tmp_path)) for line in errors)


def test_duplicate_ids_are_an_error(tmp_path):
    shutil.copy(REPO / "usecase_configs" / "behavioural_bots.yaml", tmp_path / "a.yaml")
    shutil.copy(REPO / "usecase_configs" / "behavioural_bots.yaml", tmp_path / "b.yaml")
    good, errors = load_all(tmp_path)
    assert len(good) == 1
    assert errors == [
        f"{tmp_path / 'b.yaml'}: id: 'behavioural_bots' is already used by {tmp_path / 'a.yaml'}"
    ]


def test_cli_check_reports_each_file(capsys):
    from spark_jobs.cli import main

    code = main(["check", str(REPO / "usecase_configs"), str(BAD / "unknown_key.yaml")])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[-1] == f"error: {BAD / 'unknown_key.yaml'}: treshold: unknown key"
    assert any(line.startswith("ok: ") and "behavioural_bots" in line for line in out)


# --- the project home -----------------------------------------------------------------------


def _project(root: Path, suite: str = "mine") -> Path:
    """A project folder of its own: usecase_configs/case.yaml with relative paths, a suite."""
    (root / "usecase_configs").mkdir(parents=True)
    (root / "expectations").mkdir()
    (root / "expectations" / f"{suite}.json").write_text("{}")
    config = root / "usecase_configs" / "case.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            id: temp_case
            description: a use case outside the repository
            start_date: 2024-01-01T00:00:00Z
            source: {{path: "logs/{{start:%Y-%m-%d}}/*.log"}}
            features: [{FEATURE_NAMES[0]}, {FEATURE_NAMES[1]}]
            model: {{kind: supervised, labels: {{path: labels/bots.csv}}}}
            quality: {{suites: [{suite}]}}
            """
        )
    )
    return config


def test_relative_paths_resolve_against_the_configs_project(tmp_path):
    from datetime import UTC, datetime

    project = tmp_path / "proj"
    usecase = load_usecase(_project(project))
    day = datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)
    assert usecase.home == project.resolve()
    assert usecase.source_glob(*day) == str(project.resolve() / "logs/2024-01-02/*.log")
    assert usecase.lake_root() == str(project.resolve() / "lake")
    assert usecase.model.labels.resolved_path() == str(project.resolve() / "labels/bots.csv")
    assert usecase.expectations_dir() == project.resolve() / "expectations"


def test_suites_are_looked_for_in_the_configs_project(tmp_path):
    config = _project(tmp_path / "proj", suite="theirs")
    config.write_text(config.read_text().replace("suites: [theirs]", "suites: [parsed_logs]"))
    with pytest.raises(ConfigError, match=r"quality\.suites: no suite file .*proj/expectations"):
        load_usecase(config)


def test_botwatch_home_wins(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "expectations").mkdir(parents=True)
    (elsewhere / "expectations" / "mine.json").write_text("{}")
    monkeypatch.setenv("BOTWATCH_HOME", str(elsewhere))
    usecase = load_usecase(_project(tmp_path / "proj"), home=tmp_path / "passed")
    assert usecase.home == elsewhere.resolve()
    assert usecase.lake_root() == str(elsewhere.resolve() / "lake")


def test_a_passed_home_beats_the_configs_folder(tmp_path):
    passed = tmp_path / "passed"
    usecase = load_usecase(_project(tmp_path / "proj"), home=passed)
    assert usecase.home == passed.resolve()
    assert usecase.model.labels.resolved_path() == str(passed.resolve() / "labels/bots.csv")


def test_a_config_outside_any_project_resolves_against_the_current_directory(tmp_path, monkeypatch):
    shutil.copy(REPO / "usecase_configs" / "behavioural_bots.yaml", tmp_path)
    monkeypatch.chdir(REPO / "tests")
    usecase = load_usecase(tmp_path / "behavioural_bots.yaml")
    assert usecase.home == REPO / "tests"


@pytest.mark.parametrize(
    "config",
    [
        "usecase_configs/behavioural_bots.yaml",
        "bench/eval/elastic_weak.yaml",
        "bench/aircare_bench.yaml",
        "tests/fixtures/bad_configs/threshold_range.yaml",
    ],
)
def test_the_repositorys_configs_have_the_repository_as_home(config):
    from spark_jobs.config.paths import project_home

    assert project_home(REPO / config) == REPO
