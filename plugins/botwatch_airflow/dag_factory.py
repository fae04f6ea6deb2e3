"""One Airflow DAG per use-case YAML: six SparkSubmit stages over the run's data interval, then
a light Python task that delivers the alerts the alert stage put in the outbox.

The DAG files call this at every parse, so it must stay cheap: it reads YAML and builds operator
objects, and never imports Spark or touches the network. Each stage is a separate spark-submit
of a file in ``spark_jobs/`` so the same jobs run on local[*], standalone, YARN or Kubernetes by
changing only the Airflow Spark connection.
"""

from __future__ import annotations

import os
import sys
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
from spark_jobs.config.usecase import REPO_ROOT, UseCase, load_all
from spark_jobs.errors import UseCaseConfigError

STAGES = ("ingest", "validate", "feature", "train", "score", "alert")
#: Stages that read and extend state of earlier runs (the outbox, the delivery ledger): one
#: instance at a time per DAG, even when a backfill runs several intervals at once.
SERIAL_STAGES = ("alert", "deliver")
JOBS_DIR = REPO_ROOT / "spark_jobs"

#: Templated bounds of the run's data interval, passed to every job as --start/--end.
INTERVAL_ARGS = [
    "--start",
    "{{ data_interval_start.isoformat() }}",
    "--end",
    "{{ data_interval_end.isoformat() }}",
]


def config_dir() -> Path:
    """Where use cases live: $BOTWATCH_CONFIG_DIR, else the repository's usecase_configs/."""
    return Path(os.environ.get("BOTWATCH_CONFIG_DIR") or REPO_ROOT / "usecase_configs")


def _job_env() -> dict[str, str]:
    """Environment for spark-submit: the Python that runs the jobs must have spark_jobs."""
    env = {
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
        "GX_ANALYTICS_ENABLED": "false",
    }
    for name in ("SPARK_LOCAL_IP", "JAVA_HOME", "BOTWATCH_LOGS", "BOTWATCH_EXPECTATIONS_DIR"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def _doc_md(path: Path, usecase: UseCase) -> str:
    merged = yaml.safe_dump(usecase.model_dump(mode="json"), sort_keys=False)
    return (
        f"### {usecase.id}\n\n{usecase.description}\n\n"
        f"Config file: `{path}` (merged with `_defaults.yaml`).\n\n"
        f"Stages: {' → '.join(STAGES)} → deliver; each stage is a `spark-submit` of "
        "`spark_jobs/<stage>.py` over this run's data interval; deliver sends the outbox.\n\n"
        f"```yaml\n{merged}```\n"
    )


def build_dag(path: Path, usecase: UseCase, *, auto_register: bool = True) -> DAG:
    """The DAG of one validated use case.

    ``auto_register=False`` builds it only to see whether it can be built: a DAG made inside a
    DAG file is otherwise collected by Airflow from whichever file made it.
    """
    tz = pendulum.timezone(usecase.timezone)
    start = pendulum.instance(usecase.start_date, tz=tz)
    end = pendulum.instance(usecase.end_date, tz=tz) if usecase.end_date else None
    af = usecase.airflow
    default_args: dict[str, Any] = {
        "owner": af.owner,
        "retries": af.retries,
        "retry_delay": timedelta(minutes=af.retry_delay_minutes),
    }
    if af.execution_timeout_minutes:
        default_args["execution_timeout"] = timedelta(minutes=af.execution_timeout_minutes)
    common_args = ["--config", str(path), *INTERVAL_ARGS, "--lake", usecase.lake_root()]

    with DAG(
        dag_id=usecase.id,
        description=usecase.description[:200],
        doc_md=_doc_md(path, usecase),
        schedule=CronDataIntervalTimetable(usecase.schedule, timezone=tz),
        start_date=start,
        end_date=end,
        catchup=usecase.catchup,
        max_active_runs=af.max_active_runs,
        default_args=default_args,
        tags=["botwatch", *usecase.tags],
        auto_register=auto_register,
    ) as dag:
        previous = None
        for stage in STAGES:
            task = SparkSubmitOperator(
                task_id=stage,
                application=str(JOBS_DIR / f"{stage}.py"),
                application_args=list(common_args),
                conf=dict(usecase.spark),
                conn_id=af.conn_id,
                py_files=af.py_files,
                name=f"botwatch-{usecase.id}-{stage}",
                env_vars=_job_env(),
                # A failed quality gate is a verdict on the data, not a transient error.
                retries=0 if stage == "validate" else af.retries,
                doc_md=f"`spark_jobs/{stage}.py` over the data interval of this run.",
                max_active_tis_per_dag=1 if stage in SERIAL_STAGES else None,
            )
            if previous is not None:
                previous >> task
            previous = task
        deliver = PythonOperator(
            task_id="deliver",
            python_callable=run_delivery,
            op_kwargs={"config_path": str(path), "lake_root": usecase.lake_root()},
            retries=af.retries,
            max_active_tis_per_dag=1,
            doc_md="Sends the outbox's undelivered alerts to the configured sinks "
            "(`spark_jobs/alerting/delivery.py`); secrets come from Airflow connections.",
        )
        previous >> deliver
    return dag


def build_all(
    folder: Path | None = None, *, auto_register: bool = True
) -> tuple[dict[str, DAG], list[str]]:
    """Every valid use case's DAG, and one line (file: key: reason) per config that failed."""
    good, errors = load_all(folder or config_dir())
    dags: dict[str, DAG] = {}
    for path, usecase in good:
        try:
            dags[usecase.id] = build_dag(path, usecase, auto_register=auto_register)
        except Exception as exc:  # noqa: BLE001 - one bad config must not hide the others
            errors.append(f"{path}: {type(exc).__name__}: {exc}")
    return dags, errors


def raise_config_errors(folder: Path | None = None) -> None:
    _, errors = build_all(folder, auto_register=False)
    if errors:
        raise UseCaseConfigError(
            f"{len(errors)} invalid use-case config(s); their DAGs are not loaded:\n"
            + "\n".join(errors)
        )
