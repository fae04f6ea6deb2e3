"""The install itself: one pyspark (not a pyspark/pyspark-client mix) and a clear JDK error."""

from __future__ import annotations

import os
import subprocess

from tests.support.paths import REPO


def test_python_and_jvm_sides_of_pyspark_are_the_same_version(spark):
    import pyspark

    # pyspark-client (pulled by the Airflow provider) writes the same files as pyspark: a
    # version mix shows up as a Python package that disagrees with the jars it drives.
    assert pyspark.__version__ == spark.version


def test_missing_jdk_is_one_line_saying_what_to_install():
    env = {**os.environ, "JAVA_HOME": "/nonexistent-jdk"}
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "check-java"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert "JDK 17" in lines[0] and "openjdk-17-jdk-headless" in lines[0]
