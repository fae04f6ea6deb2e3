"""DAG integrity: every config is a DAG of six Spark stages and a deliver task; a bad config is
one import error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pendulum
import pytest

from spark_jobs.stage import SPARK_STAGES, STAGES
from tests.support.paths import BAD_CONFIGS, REPO

BAD = BAD_CONFIGS


def _dagbag(config_dir: Path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("BOTWATCH_CONFIG_DIR", str(config_dir))
    return DagBag(dag_folder=str(REPO / "dags"))


def _ordered_task_ids(dag) -> list[str]:
    order, task = [], dag.get_task(SPARK_STAGES[0])
    while task is not None:
        order.append(task.task_id)
        downstream = list(task.downstream_list)
        assert len(downstream) <= 1
        task = downstream[0] if downstream else None
    return order


def test_shipped_configs_load_without_import_errors(monkeypatch):
    bag = _dagbag(REPO / "usecase_configs", monkeypatch)
    assert bag.import_errors == {}
    config_ids = {
        p.stem for p in (REPO / "usecase_configs").glob("*.yaml") if not p.name.startswith("_")
    }
    assert set(bag.dag_ids) == config_ids


def test_each_dag_runs_six_spark_stages_then_delivers(monkeypatch):
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
    from airflow.providers.standard.operators.python import PythonOperator

    bag = _dagbag(REPO / "usecase_configs", monkeypatch)
    for dag in bag.dags.values():
        assert _ordered_task_ids(dag) == list(STAGES)
        for task in dag.tasks:
            if task.task_id == "deliver":
                assert isinstance(task, PythonOperator)
                assert task.op_kwargs["config_path"].endswith(f"{dag.dag_id}.yaml")
                continue
            assert isinstance(task, SparkSubmitOperator)
            assert task.application == str(REPO / "spark_jobs" / f"{task.task_id}.py")
            assert Path(task.application).exists()
        assert dag.get_task("validate").retries == 0
        # state of earlier runs (outbox, ledger) is extended by one task instance at a time
        assert dag.get_task("alert").max_active_tis_per_dag == 1
        assert dag.get_task("deliver").max_active_tis_per_dag == 1
        assert "behaviour" in (dag.doc_md or "") or dag.dag_id in (dag.doc_md or "")


def test_timetable_gives_data_intervals(monkeypatch):
    from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable

    dag = _dagbag(REPO / "usecase_configs", monkeypatch).dags["behavioural_bots"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)


def test_rendered_arguments_carry_the_interval(monkeypatch):
    dag = _dagbag(REPO / "usecase_configs", monkeypatch).dags["behavioural_bots"]
    task = dag.get_task("feature")
    context = {
        "data_interval_start": pendulum.datetime(2015, 5, 18, tz="UTC"),
        "data_interval_end": pendulum.datetime(2015, 5, 19, tz="UTC"),
    }
    args = task.render_template(task.application_args, context)
    assert args[args.index("--start") + 1] == "2015-05-18T00:00:00+00:00"
    assert args[args.index("--end") + 1] == "2015-05-19T00:00:00+00:00"
    assert args[args.index("--config") + 1].endswith("usecase_configs/behavioural_bots.yaml")
    assert "application_args" in task.template_fields


@pytest.mark.parametrize("bad", ["unknown_key", "broken_yaml"])
def test_broken_config_beside_good_ones_is_exactly_one_import_error(tmp_path, monkeypatch, bad):
    for name in ("_defaults.yaml", "behavioural_bots.yaml"):
        shutil.copy(REPO / "usecase_configs" / name, tmp_path / name)
    shutil.copy(BAD / f"{bad}.yaml", tmp_path / f"{bad}.yaml")
    bag = _dagbag(tmp_path, monkeypatch)
    assert bag.dag_ids == ["behavioural_bots"]
    assert len(bag.import_errors) == 1
    ((error_file, message),) = bag.import_errors.items()
    assert error_file.endswith("botwatch_config_errors.py")
    assert f"{tmp_path / bad}.yaml:" in message


def test_a_new_yaml_adds_a_dag(tmp_path, monkeypatch):
    for name in ("_defaults.yaml", "behavioural_bots.yaml"):
        shutil.copy(REPO / "usecase_configs" / name, tmp_path / name)
    text = (REPO / "usecase_configs" / "behavioural_bots.yaml").read_text()
    (tmp_path / "night_owls.yaml").write_text(
        text.replace("id: behavioural_bots", "id: night_owls")
    )
    bag = _dagbag(tmp_path, monkeypatch)
    assert sorted(bag.dag_ids) == ["behavioural_bots", "night_owls"]
    assert bag.import_errors == {}


def test_configs_elsewhere_resolve_against_the_dags_project(tmp_path, monkeypatch):
    """The DAG files pass their own project folder: a config folder outside it (here a temp
    folder, no project of its own) keeps its relative paths relative to the deployment, and
    every job and the deliver task are told that home."""
    for name in ("BOTWATCH_HOME", "BOTWATCH_LAKE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("_defaults.yaml", "behavioural_bots.yaml"):
        shutil.copy(REPO / "usecase_configs" / name, tmp_path / name)
    dag = _dagbag(tmp_path, monkeypatch).dags["behavioural_bots"]
    for stage in SPARK_STAGES:
        task = dag.get_task(stage)
        assert task.env_vars["BOTWATCH_HOME"] == str(REPO)
        args = task.application_args
        assert args[args.index("--lake") + 1] == str(REPO / "lake")
    assert dag.get_task("deliver").op_kwargs["home"] == str(REPO)


def test_a_stage_task_is_the_shared_submit_spec(monkeypatch):
    from spark_jobs.config.loading import load_usecase
    from spark_jobs.stage.submit import StageSubmit

    config = REPO / "usecase_configs" / "behavioural_bots.yaml"
    dag = _dagbag(REPO / "usecase_configs", monkeypatch).dags["behavioural_bots"]
    task = dag.get_task("score")
    spec = StageSubmit.for_stage("score", config, load_usecase(config))
    assert (task.application, task.name, task.conf) == (spec.application, spec.name, spec.conf)
    assert task.application_args == spec.application_args(
        "{{ data_interval_start.isoformat() }}", "{{ data_interval_end.isoformat() }}"
    )


def test_every_broken_config_is_a_line_of_the_import_error_and_the_others_load(
    tmp_path, monkeypatch
):
    """The folder of the issue: good configs beside every broken fixture. The good DAGs are
    listed, and the one import error holds each broken file's exact line (file: key: reason)."""
    from tests.config.test_loading import BROKEN

    for name in ("_defaults.yaml", "behavioural_bots.yaml", "scrapers.yaml"):
        shutil.copy(REPO / "usecase_configs" / name, tmp_path / name)
    for name, _, _ in BROKEN:
        shutil.copy(BAD / f"{name}.yaml", tmp_path / f"{name}.yaml")
    bag = _dagbag(tmp_path, monkeypatch)
    assert sorted(bag.dag_ids) == ["behavioural_bots", "scrapers"]
    ((error_file, message),) = bag.import_errors.items()
    assert error_file.endswith("botwatch_config_errors.py")
    lines = message.splitlines()
    for name, key, reason in BROKEN:
        assert f"{tmp_path / name}.yaml: {key}: {reason.replace('{repo}', str(REPO))}" in lines
    assert f"{len(BROKEN)} use-case config(s) cannot be loaded" in message


def test_a_repeated_id_registers_neither_dag(tmp_path, monkeypatch):
    for name in ("_defaults.yaml", "scrapers.yaml"):
        shutil.copy(REPO / "usecase_configs" / name, tmp_path / name)
    for name in ("first.yaml", "second.yaml"):
        shutil.copy(REPO / "usecase_configs" / "behavioural_bots.yaml", tmp_path / name)
    bag = _dagbag(tmp_path, monkeypatch)
    assert bag.dag_ids == ["scrapers"]
    ((_, message),) = bag.import_errors.items()
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    assert f"{first}: id: 'behavioural_bots' is also the id of {second}; neither DAG" in message
    assert f"{second}: id: 'behavioural_bots' is also the id of {first}; neither DAG" in message
