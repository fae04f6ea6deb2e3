"""A spark-submit for stages over Spark Connect: run the application as the client it is.

Over Spark Connect a stage's driver is the server; what spark-submit would start is only a Python
client, and spark-submit first starts a launcher JVM of its own (~3 s here, before any Python
runs), six times per DAG run. ``plugins/botwatch_airflow/bin/spark-submit`` (first on the PATH
of ``make airflow``, ``make demo`` and the tests, so ``SparkSubmitOperator`` finds it) calls
``main``: when ``$BOTWATCH_SPARK_REMOTE`` is set and the command is a client-mode Python
application with options this module knows, it runs ``python APP ARGS`` directly; anything else
(classic mode, cluster deploy mode, a JVM application, ``--py-files``, an option it does not
know) goes to the real spark-submit unchanged, so classic, YARN and Kubernetes users see no
difference.

What the direct run leaves out, and why that is the same job: ``--master`` (the server's master
runs the jobs), ``--conf`` (over Connect only runtime settings apply, and the stage applies its
use case's ``spark:`` settings itself, ``stage.runner.get_spark``), ``--name`` (the stage names
its session).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from spark_jobs.session import REMOTE_ENV

#: The folder of the ``spark-submit`` script that calls ``main`` (set by that script).
SHIM_DIR_ENV = "BOTWATCH_SUBMIT_SHIM_DIR"
#: Options dropped in a direct run (see the module docstring), each with a value.
DROPPED_OPTIONS = frozenset({"--master", "--conf", "-c", "--name", "--deploy-mode"})


def direct_command(argv: Sequence[str], env: Mapping[str, str]) -> list[str] | None:
    """``[python, app, args...]`` for a command that can run without spark-submit, else None."""
    if not env.get(REMOTE_ENV, "").strip():
        return None
    rest = list(argv)
    while rest and rest[0].startswith("-"):
        option, _, inline = rest[0].partition("=")
        if option not in DROPPED_OPTIONS:
            return None
        value = inline if inline else (rest[1] if len(rest) > 1 else None)
        if value is None or (option == "--deploy-mode" and value != "client"):
            return None
        rest = rest[1:] if inline else rest[2:]
    if not rest or not rest[0].endswith(".py"):
        return None
    return [env.get("PYSPARK_PYTHON") or sys.executable, *rest]


def real_spark_submit(env: Mapping[str, str], own_dir: Path) -> str:
    """The spark-submit this one stands in front of: the next one on PATH, else SPARK_HOME's."""
    path = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep)
        if part and Path(part).resolve() != own_dir.resolve()
    )  # fmt: skip
    found = shutil.which("spark-submit", path=path)
    if found:
        return found
    if env.get("SPARK_HOME"):
        return str(Path(env["SPARK_HOME"]) / "bin" / "spark-submit")
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / "spark-submit")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    command = direct_command(args, env)
    if command is None:
        own_dir = Path(env.get(SHIM_DIR_ENV) or Path(sys.argv[0]).parent)
        command = [real_spark_submit(env, own_dir), *args]
    os.execvpe(command[0], command, env)
    return 127  # not reached: exec replaces this process


if __name__ == "__main__":
    sys.exit(main())
