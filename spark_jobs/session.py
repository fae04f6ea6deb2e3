"""The one SparkSession builder, with a profile per way botwatch runs.

- ``submit``: inside ``spark-submit`` (the DAG's stages): master, deploy mode and resources come
  from the submit command or the cluster; only the use case's own ``spark:`` conf is added.
- ``local``: by-hand tools in this process (``botwatch parse``, ``botwatch eval``, bench): all
  local cores (``BOTWATCH_LOCAL_MASTER`` overrides), no UI, no console progress bars.
- ``test``: the test suite and its fresh-process checks: two threads, few partitions, a JVM
  tuned to start fast (C1 only) since test data is tiny.

Every profile runs in UTC, so event times mean the same whatever the machine's zone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

PROFILES: dict[str, dict[str, str]] = {
    "submit": {},
    "local": {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    },
    "test": {
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.adaptive.enabled": "false",
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    },
}
#: Log level per profile; Spark's INFO lines (thousands per job) would bury botwatch's own.
LOG_LEVELS = {"submit": "WARN", "local": "ERROR", "test": "WARN"}


def _master(profile: str) -> str | None:
    if profile == "local":
        return os.environ.get("BOTWATCH_LOCAL_MASTER", "local[*]")
    if profile == "test":
        return os.environ.get("BOTWATCH_TEST_MASTER", "local[2]")
    return None  # spark-submit decides


def spark_session(
    app_name: str, profile: str = "submit", conf: Mapping[str, str] | None = None
) -> Any:
    """Build (or reuse) the process's session for ``profile``; ``conf`` wins over the profile."""
    from pyspark.sql import SparkSession

    if profile not in PROFILES:
        raise ValueError(f"unknown Spark profile {profile!r}; known: {', '.join(PROFILES)}")
    builder = SparkSession.builder.appName(app_name)
    master = _master(profile)
    if master:
        builder = builder.master(master)
    settings = {"spark.sql.session.timeZone": "UTC", **PROFILES[profile], **(conf or {})}
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    level = os.environ.get("BOTWATCH_SPARK_LOG_LEVEL", LOG_LEVELS[profile])
    spark.sparkContext.setLogLevel(level)
    return spark
