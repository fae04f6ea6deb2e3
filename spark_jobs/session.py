"""The one SparkSession builder, with a profile per way botwatch runs.

- ``submit``: inside ``spark-submit`` (the DAG's stages): master, deploy mode and resources come
  from the submit command or the cluster; only the use case's own ``spark:`` conf is added.
- ``local``: by-hand tools in this process (``botwatch parse``, ``botwatch eval``, bench): all
  local cores (``BOTWATCH_LOCAL_MASTER`` overrides), no UI, no console progress bars.
- ``test``: the test suite and its fresh-process checks: two threads, few partitions, a JVM
  tuned to start fast (C1 only) since test data is tiny.

**Spark Connect.** When ``$BOTWATCH_SPARK_REMOTE`` holds a Connect URL (``sc://127.0.0.1:15002``),
every profile becomes a thin client of that long-lived server instead of starting a driver JVM
of its own: the JVM start, the class loading and the JIT warm-up (most of a small stage's time)
are paid once per server, not once per stage. ``make demo``, ``make airflow`` and the tests start
such a server on 127.0.0.1 (``botwatch_airflow.services.spark_connect``). Unset, a stage is a classic driver
as spark-submit made it (YARN, Kubernetes, standalone). Over Connect only the use case's runtime
settings (``spark.sql.*`` and others the server lets a session change) apply to the session; the
rest (memory, executors, Java options) belongs to the server, and is logged once as such.

Every profile runs in UTC, so event times mean the same whatever the machine's zone.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from spark_jobs.errors import SparkServerUnavailable

log = logging.getLogger("botwatch")

#: The Spark Connect URL every botwatch session connects to, when set (empty: classic).
REMOTE_ENV = "BOTWATCH_SPARK_REMOTE"
#: The port of an ``sc://host`` URL that names none (Spark Connect's own default).
CONNECT_DEFAULT_PORT = 15002
#: How long a client waits for the server's port before it says none answers. pyspark's own
#: retries back off for minutes, which hid a missing server as a hung task.
CONNECT_WAIT_S = float(os.environ.get("BOTWATCH_SPARK_REMOTE_WAIT_S", "20"))

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


def remote_url() -> str | None:
    """The Connect server this process's sessions use, or None for a classic driver."""
    url = os.environ.get(REMOTE_ENV, "").strip()
    return url or None


def is_remote(spark: Any) -> bool:
    """Whether ``spark`` is a Spark Connect session (it has no JVM in this process)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def has_active_session() -> bool:
    """Whether this process already holds a session (classic or Connect) that it reuses."""
    from pyspark import SparkContext

    try:
        from pyspark.sql.connect.session import SparkSession as ConnectSession
    except ImportError:  # pragma: no cover - pyspark without the Connect client
        ConnectSession = None  # noqa: N806
    if ConnectSession is not None and ConnectSession.getActiveSession() is not None:
        return True
    return SparkContext._active_spark_context is not None


def _master(profile: str) -> str | None:
    if profile == "local":
        return os.environ.get("BOTWATCH_LOCAL_MASTER", "local[*]")
    if profile == "test":
        return os.environ.get("BOTWATCH_TEST_MASTER", "local[2]")
    return None  # spark-submit decides


def defer_model_releases() -> None:
    """Free server-side ML models with their session, never from a finalizer.

    pyspark 4.1's Connect ML frees a model from ``__del__``; when the garbage collector runs
    that inside another gRPC call of the same thread, the channel deadlocks and the stage hangs
    (seen here saving a pipeline; SPARK-55020 and SPARK-57655, fixed after 4.1). The server
    drops a session's models when the session ends, which every stage's does.
    """
    import pyspark.ml.util as ml_util

    ml_util.del_remote_cache = _keep_until_session_ends


def _keep_until_session_ends(ref_id: str) -> None:
    """Stands in for ``pyspark.ml.util.del_remote_cache`` (see ``defer_model_releases``)."""


def server_address(url: str) -> tuple[str, int]:
    """``(host, port)`` of a Connect URL ``sc://host[:port][/;params]``."""
    parts = urlsplit(url)
    if parts.scheme != "sc" or not parts.hostname:
        raise SparkServerUnavailable(
            f"${REMOTE_ENV}={url!r} is not a Spark Connect URL (sc://host:port)"
        )
    return parts.hostname, parts.port or CONNECT_DEFAULT_PORT


def require_server(url: str, wait_s: float = CONNECT_WAIT_S) -> None:
    """Fail in seconds, with what to start, when nothing listens at the server's port."""
    host, port = server_address(url)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise SparkServerUnavailable(
                    f"no Spark Connect server answers at {url} (${REMOTE_ENV}): {exc.strerror or exc}; "
                    "start it with `make spark-connect`, or run classic with SPARK_MODE=classic"
                ) from None
        time.sleep(0.5)


def _connect_session(app_name: str, url: str, settings: Mapping[str, str]) -> Any:
    """A client session of the server at ``url`` with the settings a session may change."""
    from pyspark.sql import SparkSession

    require_server(url)
    defer_model_releases()
    # spark-submit exports the --master it was given (SparkSubmitOperator always passes one);
    # over Connect the server's master runs the jobs, and pyspark refuses to be given both.
    os.environ.pop("MASTER", None)
    spark = SparkSession.builder.remote(url).appName(app_name).getOrCreate()
    server_side = []
    for key, value in settings.items():
        if spark.conf.isModifiable(key):
            spark.conf.set(key, value)
        else:
            server_side.append(key)
    if server_side:
        log.info(
            "Spark Connect %s: %s belong to the server and keep its values",
            url,
            ", ".join(sorted(server_side)),
        )
    return spark


def spark_session(
    app_name: str, profile: str = "submit", conf: Mapping[str, str] | None = None
) -> Any:
    """Build (or reuse) the process's session for ``profile``; ``conf`` wins over the profile."""
    from pyspark.sql import SparkSession

    if profile not in PROFILES:
        raise ValueError(f"unknown Spark profile {profile!r}; known: {', '.join(PROFILES)}")
    settings = {"spark.sql.session.timeZone": "UTC", **PROFILES[profile], **(conf or {})}
    url = remote_url()
    if url:
        return _connect_session(app_name, url, settings)
    # A Connect session marks its process (and the children it starts) with this variable, and
    # pyspark then refuses to build a classic driver in them.
    os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
    builder = SparkSession.builder.appName(app_name)
    master = _master(profile)
    if master:
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    level = os.environ.get("BOTWATCH_SPARK_LOG_LEVEL", LOG_LEVELS[profile])
    spark.sparkContext.setLogLevel(level)
    return spark


def master_of(spark: Any) -> str:
    """The master the session's jobs run on (over Connect: the server's)."""
    return str(spark.conf.get("spark.master", "local[*]"))
