"""One stage's spark-submit, described once for everything that submits a stage.

The DAG factory turns a ``StageSubmit`` into a ``SparkSubmitOperator`` and the bench
(``bench/parse_bench.py``) into a command line, so what the bench measures is what the DAG runs:
same application, arguments, conf, name and job environment. ``to_argv`` mirrors the command
``SparkSubmitHook`` builds (``spark-submit --master M --conf k=v ... [--py-files F] --name N app
args``). No Airflow import: this is read at DAG-parse time and by tools that run without Airflow.

The application is the entrypoint file of the installed package (``spark_jobs/<stage>.py``),
never a path inside some checkout. The job environment carries ``$BOTWATCH_HOME`` set to the
use case's project home, so the job resolves the config's relative paths exactly as the
submitter did (see ``spark_jobs.config.paths``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import spark_jobs
from spark_jobs.config.paths import HOME_ENV
from spark_jobs.session import REMOTE_ENV

if TYPE_CHECKING:
    from spark_jobs.config.usecase import UseCase

#: The environment variable that sets the level of Spark's own log lines (default WARN; INFO
#: brings Spark's start-up and progress lines back into the task log).
LOG_LEVEL_ENV = "BOTWATCH_SPARK_LOG_LEVEL"
#: Variables of the submitter's environment handed on to the job when set.
PASSED_ENV = (
    "SPARK_LOCAL_IP", "JAVA_HOME", "BOTWATCH_LOGS", "BOTWATCH_EXPECTATIONS_DIR", LOG_LEVEL_ENV,
    REMOTE_ENV,
)  # fmt: skip
#: The Spark conf key of the driver JVM's options; spark-submit applies it in client mode.
DRIVER_JAVA_OPTIONS = "spark.driver.extraJavaOptions"


def log4j2_config() -> Path:
    """The driver's log4j2 config shipped in the package: Spark's lines at WARN unless
    ``$BOTWATCH_SPARK_LOG_LEVEL`` says otherwise (read by log4j2 in the driver)."""
    return Path(spark_jobs.__file__).resolve().parent / "conf" / "log4j2.properties"


def application_path(stage: str) -> Path:
    """The entrypoint spark-submit runs for ``stage``: ``<installed spark_jobs>/<stage>.py``."""
    return Path(spark_jobs.__file__).resolve().parent / f"{stage}.py"


def job_env(home: str | os.PathLike[str]) -> dict[str, str]:
    """Environment of a job's driver.

    :param home: the use case's project home, passed on as ``$BOTWATCH_HOME``.
    :return: the Python that runs the jobs (it must have ``spark_jobs``: the submitter's own
        unless ``$PYSPARK_PYTHON`` says otherwise), Great Expectations' analytics off, the
        project home, and the variables of ``PASSED_ENV`` that are set.
    """
    env = {
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
        "GX_ANALYTICS_ENABLED": "false",
        HOME_ENV: str(home),
    }
    for name in PASSED_ENV:
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def quiet_driver_conf(conf: Mapping[str, str]) -> dict[str, str]:
    """``conf`` with the package's log4j2 config added in front of the driver's Java options.

    ``SparkSession``'s ``setLogLevel`` comes after the JVM has printed its start-up INFO lines;
    a log4j2 config given to the JVM keeps them out from its first line. A use case that names
    its own log4j2 config keeps it. In cluster deploy mode the path must exist on the driver's
    machine (else log4j2 says so once and falls back to Spark's default).
    """
    merged = dict(conf)
    options = merged.get(DRIVER_JAVA_OPTIONS, "")
    path = log4j2_config()
    if "log4j2.configurationFile" in options or not path.is_file():
        return merged
    flag = f"-Dlog4j2.configurationFile={path.as_uri()}"
    merged[DRIVER_JAVA_OPTIONS] = f"{flag} {options}".strip()
    return merged


@dataclass(frozen=True)
class StageSubmit:
    """What one stage's spark-submit is made of, independent of who submits it.

    :param stage: the stage name (one of ``spark_jobs.stage.SPARK_STAGES``).
    :param application: the Python file spark-submit runs.
    :param config: the use-case YAML the job reads (``--config``).
    :param lake: the lake root the job reads and writes (``--lake``); resolved by the submitter
        so the DAG's deliver task and the jobs use the same one.
    :param name: the Spark application name, ``botwatch-<use case>-<stage>``.
    :param conf: Spark conf (``--conf key=value``): the use case's ``spark:`` section, with
        the package's log4j2 config in the driver's Java options (``quiet_driver_conf``).
    :param env_vars: environment of the job's driver (``job_env``); not on the command line:
        SparkSubmitHook sets it on the spark-submit process in client mode.
    :param py_files: comma-separated zips/eggs shipped with the job (``--py-files``), or None.
    """

    stage: str
    application: str
    config: str
    lake: str
    name: str
    conf: Mapping[str, str] = field(default_factory=dict)
    env_vars: Mapping[str, str] = field(default_factory=dict)
    py_files: str | None = None

    @classmethod
    def for_stage(
        cls,
        stage: str,
        config_path: str | os.PathLike[str],
        usecase: UseCase,
        lake: str | None = None,
    ) -> StageSubmit:
        """The submit of ``stage`` for a loaded use case.

        :param stage: the stage to run.
        :param config_path: the file ``usecase`` was loaded from; the job loads it again.
        :param usecase: the validated use case (its conf, id, project home, lake and py_files).
        :param lake: the lake root; None: the use case's own (``UseCase.lake_root``).
        """
        return cls(
            stage=stage,
            application=str(application_path(stage)),
            config=str(config_path),
            lake=lake if lake is not None else usecase.lake_root(),
            name=f"botwatch-{usecase.id}-{stage}",
            conf=quiet_driver_conf(usecase.spark),
            env_vars=job_env(usecase.home),
            py_files=usecase.airflow.py_files,
        )

    def application_args(self, start: str, end: str) -> list[str]:
        """The job's command line (``spark_jobs.stage.runner.build_parser``).

        :param start: the data interval's start, ISO 8601 (or a template rendering to one).
        :param end: the data interval's end, likewise.
        """
        return ["--config", self.config, "--start", start, "--end", end, "--lake", self.lake]

    def to_argv(
        self, *, master: str, start: str, end: str, spark_submit: str = "spark-submit"
    ) -> list[str]:
        """The spark-submit command line, in the order SparkSubmitHook builds it.

        :param master: the Spark master (what the Airflow connection's host says).
        :param start: the data interval's start, ISO 8601.
        :param end: the data interval's end, ISO 8601.
        :param spark_submit: the spark-submit executable.
        """
        argv = [spark_submit, "--master", master]
        for key, value in self.conf.items():
            argv += ["--conf", f"{key}={value}"]
        if self.py_files:
            argv += ["--py-files", self.py_files]
        argv += ["--name", self.name, self.application]
        return argv + self.application_args(start, end)
