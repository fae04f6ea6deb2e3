"""One Airflow DAG per use-case YAML: six SparkSubmit stages over the run's data interval, then
a light Python task that delivers the alerts the alert stage put in the outbox.

The DAG files call this at every parse, so it must stay cheap: it reads YAML and builds operator
objects, and never imports Spark or touches the network. Each stage is a separate spark-submit
of an entrypoint of the installed ``spark_jobs`` package, described by
``spark_jobs.stage.submit.StageSubmit`` (shared with the bench), so the same jobs run on
local[*], standalone, YARN or Kubernetes by changing only the Airflow Spark connection.

The DAG files pass the project folder they are deployed in as ``home``: the default config
folder is ``<home>/usecase_configs`` and relative paths in the configs resolve against it
(``$BOTWATCH_HOME`` and ``$BOTWATCH_CONFIG_DIR`` override; see ``spark_jobs.config.paths``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import yaml
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG
from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable

from botwatch_airflow.deliver_task import run_delivery
from spark_jobs.config.loading import load_all
from spark_jobs.config.paths import project_home
from spark_jobs.config.usecase import AirflowConfig, UseCase
from spark_jobs.errors import UseCaseConfigError
from spark_jobs.stage import DELIVER_STAGE, SPARK_STAGES
from spark_jobs.stage.submit import StageSubmit

#: Stages that read and extend state of earlier runs (the outbox, the delivery ledger): one
#: instance at a time per DAG, even when a backfill runs several intervals at once.
SERIAL_STAGES = ("alert", DELIVER_STAGE)
#: A failed quality gate is a verdict on the data, not a transient error: never retried.
UNRETRIED_STAGES = ("validate",)

#: Templated bounds of the run's data interval, passed to every job as --start/--end.
INTERVAL_START = "{{ data_interval_start.isoformat() }}"
INTERVAL_END = "{{ data_interval_end.isoformat() }}"


def config_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """Where use cases live: ``$BOTWATCH_CONFIG_DIR``, else ``<project home>/usecase_configs``.

    :param home: the project folder of the deployment (the DAG files pass theirs); the project
        home is ``$BOTWATCH_HOME``, else this, else the current directory.
    """
    return Path(
        os.environ.get("BOTWATCH_CONFIG_DIR") or project_home(home=home) / "usecase_configs"
    )


def _doc_md(path: Path, usecase: UseCase) -> str:
    merged = yaml.safe_dump(usecase.model_dump(mode="json"), sort_keys=False)
    return (
        f"### {usecase.id}\n\n{usecase.description}\n\n"
        f"Config file: `{path}` (merged with `_defaults.yaml`).\n\n"
        f"Stages: {' → '.join(SPARK_STAGES)} → {DELIVER_STAGE}; each stage is a `spark-submit` "
        "of `spark_jobs/<stage>.py` over this run's data interval; deliver sends the outbox.\n\n"
        f"```yaml\n{merged}```\n"
    )


def _default_args(af: AirflowConfig) -> dict[str, Any]:
    """Owner, retries and timeout of every task, from the use case's ``airflow:`` section."""
    default_args: dict[str, Any] = {
        "owner": af.owner,
        "retries": af.retries,
        "retry_delay": timedelta(minutes=af.retry_delay_minutes),
    }
    if af.execution_timeout_minutes:
        default_args["execution_timeout"] = timedelta(minutes=af.execution_timeout_minutes)
    return default_args


def _spark_task(submit: StageSubmit, af: AirflowConfig) -> SparkSubmitOperator:
    """The operator of one stage: the shared submit spec plus Airflow's own settings."""
    stage = submit.stage
    return SparkSubmitOperator(
        task_id=stage,
        application=submit.application,
        application_args=submit.application_args(INTERVAL_START, INTERVAL_END),
        conf=dict(submit.conf),
        conn_id=af.conn_id,
        py_files=submit.py_files,
        name=submit.name,
        env_vars=dict(submit.env_vars),
        retries=0 if stage in UNRETRIED_STAGES else af.retries,
        doc_md=f"`spark_jobs/{stage}.py` over the data interval of this run.",
        max_active_tis_per_dag=1 if stage in SERIAL_STAGES else None,
    )


def _deliver_task(path: Path, usecase: UseCase) -> PythonOperator:
    """The deliver task: plain Python in the worker, where Airflow's connections are."""
    return PythonOperator(
        task_id=DELIVER_STAGE,
        python_callable=run_delivery,
        op_kwargs={
            "config_path": str(path),
            "lake_root": usecase.lake_root(),
            "home": str(usecase.home),
        },
        retries=usecase.airflow.retries,
        max_active_tis_per_dag=1,
        doc_md="Sends the outbox's undelivered alerts to the configured sinks "
        "(`spark_jobs/alerting/delivery.py`); secrets come from Airflow connections.",
    )


def build_dag(path: Path, usecase: UseCase, *, auto_register: bool = True) -> DAG:
    """The DAG of one validated use case.

    :param path: the use-case file; every job loads it again (``--config``).
    :param usecase: ``path`` loaded (``load_usecase``), which fixed its project home.
    :param auto_register: False builds the DAG only to see whether it can be built: a DAG
        made inside a DAG file is otherwise collected by Airflow from whichever file made it.
    """
    tz = pendulum.timezone(usecase.timezone)
    af = usecase.airflow
    with DAG(
        dag_id=usecase.id,
        description=usecase.description[:200],
        doc_md=_doc_md(path, usecase),
        schedule=CronDataIntervalTimetable(usecase.schedule, timezone=tz),
        start_date=pendulum.instance(usecase.start_date, tz=tz),
        end_date=pendulum.instance(usecase.end_date, tz=tz) if usecase.end_date else None,
        catchup=usecase.catchup,
        max_active_runs=af.max_active_runs,
        default_args=_default_args(af),
        tags=["botwatch", *usecase.tags],
        auto_register=auto_register,
    ) as dag:
        lake = usecase.lake_root()
        previous = None
        for stage in SPARK_STAGES:
            task = _spark_task(StageSubmit.for_stage(stage, path, usecase, lake), af)
            if previous is not None:
                previous >> task
            previous = task
        previous >> _deliver_task(path, usecase)
    return dag


def build_all(
    folder: Path | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
    auto_register: bool = True,
) -> tuple[dict[str, DAG], list[str]]:
    """Every valid use case's DAG, and one line (file: key: reason) per config that failed.

    :param folder: the config folder; None: ``config_dir(home)``.
    :param home: the project home of the configs unless ``$BOTWATCH_HOME`` is set; None: each
        file's own (``spark_jobs.config.paths.project_home``).
    :param auto_register: see ``build_dag``.
    """
    good, errors = load_all(folder or config_dir(home), home=home)
    dags: dict[str, DAG] = {}
    for path, usecase in good:
        try:
            dags[usecase.id] = build_dag(path, usecase, auto_register=auto_register)
        except Exception as exc:  # noqa: BLE001 - one bad config must not hide the others
            reason = " ".join(str(exc).split()) or "no reason given"
            errors.append(f"{path}: (top level): Airflow cannot build its DAG: {reason}")
    return dags, errors


def raise_config_errors(
    folder: Path | None = None, *, home: str | os.PathLike[str] | None = None
) -> None:
    """Fail (the DAG file's import) with one line per invalid config, if there is any.

    Airflow keeps one import error per Python file, so this file's error lists every broken
    config, one ``file: key: reason`` line each, while ``botwatch_usecases.py`` loads the
    others. The lines are the ones ``botwatch check`` prints.

    :param folder: as for ``build_all``.
    :param home: as for ``build_all``.
    """
    _, errors = build_all(folder, home=home, auto_register=False)
    if errors:
        raise UseCaseConfigError(
            f"{len(errors)} use-case config(s) cannot be loaded, so their DAGs are missing "
            "(every other use case is loaded; `botwatch check` says the same):\n"
            + "\n".join(errors)
        )
