"""botwatch's spark-submit: a Connect stage runs as a plain Python client, the rest unchanged."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from spark_jobs.session import REMOTE_ENV
from spark_jobs.stage import launcher
from tests.support.paths import REPO

SHIM = REPO / "plugins" / "botwatch_airflow" / "bin" / "spark-submit"
REMOTE = {REMOTE_ENV: "sc://127.0.0.1:15002", "PYSPARK_PYTHON": "/venv/bin/python"}


def test_a_connect_stage_runs_its_application_directly():
    argv = ["--master", "local[*]", "--conf", "spark.sql.shuffle.partitions=4",
            "--conf", "spark.driver.extraJavaOptions=-Dx=1", "--name", "botwatch-uc-ingest",
            "/pkg/spark_jobs/ingest.py", "--config", "c.yaml", "--start", "s"]  # fmt: skip
    assert launcher.direct_command(argv, REMOTE) == [
        "/venv/bin/python", "/pkg/spark_jobs/ingest.py", "--config", "c.yaml", "--start", "s",
    ]  # fmt: skip
    assert launcher.direct_command(["--master=local[2]", "app.py"], REMOTE) == [
        "/venv/bin/python", "app.py",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [
        ["--master", "yarn", "--deploy-mode", "cluster", "app.py"],  # the driver runs elsewhere
        ["--py-files", "deps.zip", "app.py"],  # extra code: spark-submit ships it
        ["--class", "org.example.Main", "app.jar"],  # a JVM application
        ["--master", "local[*]", "--packages", "x:y:1", "app.py"],  # an option it does not know
        ["--master"],  # truncated
        ["--version"],
    ],
)
def test_anything_else_goes_to_the_real_spark_submit(argv):
    assert launcher.direct_command(argv, REMOTE) is None


def test_classic_mode_always_goes_to_the_real_spark_submit():
    assert launcher.direct_command(["app.py"], {REMOTE_ENV: ""}) is None
    assert launcher.direct_command(["app.py"], {}) is None


def test_the_real_spark_submit_is_the_next_one_on_path(tmp_path):
    shim_dir, other = tmp_path / "shim", tmp_path / "spark" / "bin"
    for folder in (shim_dir, other):
        folder.mkdir(parents=True)
        (folder / "spark-submit").write_text("#!/bin/sh\n")
        (folder / "spark-submit").chmod(0o755)
    env = {"PATH": f"{shim_dir}{os.pathsep}{other}"}
    assert launcher.real_spark_submit(env, shim_dir) == str(other / "spark-submit")
    assert launcher.real_spark_submit({"PATH": str(shim_dir), "SPARK_HOME": "/opt/spark"},
                                      shim_dir) == "/opt/spark/bin/spark-submit"  # fmt: skip


def _run_shim(tmp_path, env):
    app = tmp_path / "app.py"
    app.write_text("import sys; print('ARGS', sys.argv[1:])\n")
    fake_real = tmp_path / "real"
    fake_real.mkdir(exist_ok=True)
    (fake_real / "spark-submit").write_text('#!/bin/sh\necho REAL "$@"\n')
    (fake_real / "spark-submit").chmod(0o755)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, **env,
           "PATH": f"{SHIM.parent}{os.pathsep}{fake_real}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    done = subprocess.run(
        ["spark-submit", "--master", "local[*]", "--name", "n", str(app), "--x", "1"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout


def test_the_shim_on_path_runs_a_connect_app_in_python_and_a_classic_one_through_spark_submit(
    tmp_path,
):
    assert _run_shim(tmp_path, {REMOTE_ENV: "sc://127.0.0.1:1"}).strip() == "ARGS ['--x', '1']"
    classic = _run_shim(tmp_path, {REMOTE_ENV: ""})
    assert classic.startswith("REAL --master local[*] --name n ")
