"""The one spark-submit spec of a stage, shared by the DAG factory and the bench (no Airflow)."""

from __future__ import annotations

from pathlib import Path

import pytest

import spark_jobs
from spark_jobs.config.loading import load_usecase
from spark_jobs.stage import SPARK_STAGES
from spark_jobs.stage.submit import (
    DRIVER_JAVA_OPTIONS,
    LOG_LEVEL_ENV,
    StageSubmit,
    application_path,
    log4j2_config,
    quiet_driver_conf,
)
from tests.support.paths import REPO

CONFIG = REPO / "usecase_configs" / "behavioural_bots.yaml"


@pytest.fixture
def usecase(monkeypatch):
    for name in ("BOTWATCH_HOME", "BOTWATCH_LAKE", "BOTWATCH_LOGS"):
        monkeypatch.delenv(name, raising=False)
    return load_usecase(CONFIG)


@pytest.mark.parametrize("stage", SPARK_STAGES)
def test_every_stage_runs_an_entrypoint_of_the_installed_package(stage):
    path = application_path(stage)
    assert path == Path(spark_jobs.__file__).resolve().parent / f"{stage}.py"
    assert path.is_file()


def test_for_stage_takes_name_conf_lake_and_home_from_the_use_case(usecase):
    submit = StageSubmit.for_stage("feature", CONFIG, usecase)
    assert submit.name == "botwatch-behavioural_bots-feature"
    assert {k: v for k, v in submit.conf.items() if k != DRIVER_JAVA_OPTIONS} == usecase.spark
    assert submit.lake == str(REPO / "lake")
    assert submit.env_vars["BOTWATCH_HOME"] == str(REPO)
    assert submit.env_vars["GX_ANALYTICS_ENABLED"] == "false"
    assert StageSubmit.for_stage("feature", CONFIG, usecase, lake="/l").lake == "/l"


def test_to_argv_is_what_spark_submit_hook_builds(usecase):
    submit = StageSubmit(
        stage="ingest",
        application="/app/ingest.py",
        config="/c.yaml",
        lake="/lake",
        name="botwatch-x-ingest",
        conf={"spark.a": "1", "spark.b": "two"},
        py_files="deps.zip",
    )
    argv = submit.to_argv(master="local[*]", start="S", end="E", spark_submit="/bin/spark-submit")
    assert argv == [
        "/bin/spark-submit",
        "--master", "local[*]",
        "--conf", "spark.a=1",
        "--conf", "spark.b=two",
        "--py-files", "deps.zip",
        "--name", "botwatch-x-ingest",
        "/app/ingest.py",
        "--config", "/c.yaml", "--start", "S", "--end", "E", "--lake", "/lake",
    ]  # fmt: skip


def test_application_args_parse_as_the_stage_command_line(usecase):
    from spark_jobs.stage.runner import build_parser

    submit = StageSubmit.for_stage("score", CONFIG, usecase)
    args = build_parser("score").parse_args(
        submit.application_args("2015-05-17T00:00:00+00:00", "2015-05-18T00:00:00+00:00")
    )
    assert (args.config, args.lake) == (str(CONFIG), usecase.lake_root())
    assert args.end > args.start


def test_every_stage_driver_gets_the_packaged_log4j2_config(usecase):
    submit = StageSubmit.for_stage("ingest", CONFIG, usecase)
    assert (
        submit.conf[DRIVER_JAVA_OPTIONS] == f"-Dlog4j2.configurationFile={log4j2_config().as_uri()}"
    )
    text = log4j2_config().read_text(encoding="utf-8")
    # Spark's lines at WARN unless the environment asks for more, on stderr
    assert f"rootLogger.level = ${{env:{LOG_LEVEL_ENV}:-WARN}}" in text
    assert "appender.console.target = SYSTEM_ERR" in text


def test_the_use_cases_own_driver_options_are_kept_after_the_log4j2_config():
    conf = quiet_driver_conf({DRIVER_JAVA_OPTIONS: "-XX:+UseSerialGC", "spark.a": "1"})
    assert conf["spark.a"] == "1"
    flag, own = conf[DRIVER_JAVA_OPTIONS].split(" ")
    assert flag.startswith("-Dlog4j2.configurationFile=file:/") and own == "-XX:+UseSerialGC"


def test_a_use_case_with_its_own_log4j2_config_keeps_it():
    own = {DRIVER_JAVA_OPTIONS: "-Dlog4j2.configurationFile=/etc/spark/log4j2.properties"}
    assert quiet_driver_conf(own) == own


def test_the_spark_log_level_of_the_submitter_reaches_the_job(usecase, monkeypatch):
    monkeypatch.setenv(LOG_LEVEL_ENV, "INFO")
    submit = StageSubmit.for_stage("ingest", CONFIG, usecase)
    assert submit.env_vars[LOG_LEVEL_ENV] == "INFO"
