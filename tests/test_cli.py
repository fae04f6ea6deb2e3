"""The ``botwatch`` command: check's lines and exit code, a stage's --help, a bad config's exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from spark_jobs.cli import main
from spark_jobs.stage import STAGES
from tests.support.paths import BAD_CONFIGS, REPO

BAD = BAD_CONFIGS


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch):
    monkeypatch.delenv("BOTWATCH_LOGS", raising=False)
    monkeypatch.setenv("BOTWATCH_HOME", str(REPO))


def test_check_prints_one_line_per_problem_and_fails_on_an_error(capsys):
    good = REPO / "usecase_configs" / "scrapers.yaml"
    code = main(["check", str(good), str(BAD / "unknown_key.yaml"), str(BAD / "no_files.yaml")])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0] == f"{good}: ok"
    assert (
        f"{BAD / 'unknown_key.yaml'}: error: treshold: unknown key; did you mean 'threshold'?"
        in out
    )
    assert any(line.startswith(f"{BAD / 'no_files.yaml'}: warning: source.path: ") for line in out)


def test_check_of_warnings_only_exits_zero(capsys):
    assert main(["check", str(BAD / "no_files.yaml")]) == 0
    assert capsys.readouterr().out.count("\n") == 1


def test_check_without_paths_checks_the_projects_configs(capsys, monkeypatch):
    monkeypatch.delenv("BOTWATCH_CONFIG_DIR", raising=False)
    main(["check"])
    out = capsys.readouterr().out
    assert f"{REPO / 'usecase_configs' / 'behavioural_bots.yaml'}: ok" in out.splitlines()


def test_check_of_the_bad_fixtures_gives_every_file_an_error_or_warning(capsys):
    assert main(["check", str(BAD)]) == 1
    out = capsys.readouterr().out.splitlines()
    flagged = {
        line.split(": ", 1)[0] for line in out if ": error: " in line or ": warning: " in line
    }
    assert flagged == {str(p) for p in BAD.glob("*.yaml")}
    assert not any(line.endswith(": ok") for line in out)


@pytest.mark.parametrize("stage", STAGES)
def test_run_stage_help_shows_the_stages_options(stage, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", stage, "--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert out.startswith(f"usage: botwatch run {stage} ")
    for option in ("--config", "--start", "--end", "--lake"):
        assert option in out


def test_run_help_lists_the_stages(capsys):
    assert main(["run", "--help"]) == 0
    assert ",".join(STAGES) in capsys.readouterr().out


@pytest.mark.parametrize("stage", ["ingest", "deliver"])
def test_a_bad_config_is_its_line_and_exit_2_not_a_traceback(stage, capsys):
    config = BAD / "bad_month.yaml"
    code = main(
        ["run", stage, "--config", str(config), "--start", "2015-05-17", "--end", "2015-05-18"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"{config}: start_date: not a date: 2014-13-01 (month 13; months are 1 to 12)\n"


def test_an_unset_variable_in_the_source_stops_ingest_before_spark(capsys, monkeypatch):
    monkeypatch.delenv("BOTWATCH_TEST_UNSET_LOGS", raising=False)
    config = BAD / "unset_env.yaml"
    code = main(
        ["run", "ingest", "--config", str(config), "--start", "2015-05-17", "--end", "2015-05-18"]
    )
    assert code == 2
    assert capsys.readouterr().err == (
        f"{config}: source.path: environment variable BOTWATCH_TEST_UNSET_LOGS is not set and "
        "has no default\n"
    )


def test_the_installed_command_exits_2_with_the_line():
    config = BAD / "unknown_key.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "spark_jobs.cli", "run", "score", "--config", str(config),
         "--start", "2015-05-17", "--end", "2015-05-18"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"{config}: treshold: unknown key; did you mean 'threshold'?"
    )
    assert "Traceback" not in done.stderr
