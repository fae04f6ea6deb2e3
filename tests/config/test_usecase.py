"""Config validation: shipped configs load; each broken config gives one line naming file, key, reason."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest

from spark_jobs.config.usecase import expand_env, load_all, load_usecase
from spark_jobs.errors import ConfigError
from tests.support.paths import BAD_CONFIGS, REPO

BAD = BAD_CONFIGS


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
def test_broken_config_gives_one_line_with_file_key_and_reason(tmp_path, name, key, reason):
    path = tmp_path / f"{name}.yaml"
    shutil.copy(BAD / f"{name}.yaml", path)
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


def test_source_glob_fills_env_and_interval(monkeypatch):
    usecase = load_usecase(REPO / "usecase_configs" / "behavioural_bots.yaml")
    monkeypatch.setenv("BOTWATCH_LOGS", "/logs/site/{start:%Y-%m}/*{start:%d}.log.{gz,bz2}")
    start, end = datetime(2015, 5, 17, tzinfo=UTC), datetime(2015, 5, 18, tzinfo=UTC)
    assert usecase.source_glob(start, end) == "/logs/site/2015-05/*17.log.{gz,bz2}"
    assert usecase.source_glob_all() == "/logs/site/*/**.log.{gz,bz2}"
    monkeypatch.delenv("BOTWATCH_LOGS")
    assert usecase.source_glob(start, end) == str(
        REPO / "tests/fixtures/logs/elastic_examples/*.gz"
    )


def test_expand_env_without_default_names_the_variable(monkeypatch):
    monkeypatch.delenv("BOTWATCH_NOPE", raising=False)
    with pytest.raises(ValueError, match="BOTWATCH_NOPE"):
        expand_env("${BOTWATCH_NOPE}/x")


def test_cli_check_reports_each_file(capsys):
    from spark_jobs.cli import main

    code = main(["check", str(REPO / "usecase_configs"), str(BAD / "unknown_key.yaml")])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[-1] == f"error: {BAD / 'unknown_key.yaml'}: treshold: unknown key"
    assert any(line.startswith("ok: ") and "behavioural_bots" in line for line in out)
