"""The one spark-submit spec of a stage, shared by the DAG factory and the bench (no Airflow)."""

from __future__ import annotations

from pathlib import Path

import pytest

import spark_jobs
from spark_jobs.config.loading import load_usecase
from spark_jobs.stage import SPARK_STAGES
from spark_jobs.stage.submit import StageSubmit, application_path
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
    assert submit.conf == usecase.spark
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
