"""Where every stage reads and writes in the lake, and small side files (JSON) on any Hadoop FS.

Layout under the lake root, one partition per use case and data interval::

    parsed/use_case=<id>/interval=<key>/        Parquet, one row per parsed log line
    quarantine/use_case=<id>/interval=<key>/    Parquet, lines that did not parse: file, line, reason
    out_of_window/use_case=<id>/interval=<key>/ Parquet, parsed lines timed outside the interval
    features/use_case=<id>/interval=<key>/      Parquet, one row per session
    scores/use_case=<id>/interval=<key>/        Parquet, one row per session with score 0-100
    alerts/use_case=<id>/interval=<key>/        Parquet, one row per alert raised or suppressed
    outbox/use_case=<id>/interval=<key>/alerts.jsonl   ECS alert documents raised (see outbox)
    deliveries/use_case=<id>/interval=<key>/<sink>.jsonl  delivery ledger per sink (see outbox)
    reports/use_case=<id>/interval=<key>/report.html   the run's HTML report
    runs/use_case=<id>/interval=<key>/<stage>.json   counts and outcome of each stage
    models/use_case=<id>/versions/<version>/    the model registry (see model_registry)
    models/use_case=<id>/champion.json          which version serves which intervals
    validation/use_case=<id>/interval=<key>/<suite>.json   Great Expectations results

Each stage overwrites exactly its own partition, so reruns and backfills are idempotent (a model
version is named after its interval and config, so retraining an interval rewrites it). The
interval key is the interval's start in UTC (``20150517T000000Z``): it sorts like time, and has
no ``:`` (Hadoop paths reject colons in relative names).

Side files go through Hadoop's FileSystem API (via the session's JVM) so that the same code
works on a local folder, HDFS or s3a:// object storage.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

DATASETS = (
    "parsed",
    "quarantine",
    "out_of_window",
    "features",
    "scores",
    "alerts",
    "outbox",
    "deliveries",
    "reports",
    "runs",
    "models",
    "validation",
)


def iso_utc(instant: datetime) -> str:
    """``2015-05-17T00:00:00Z``: one spelling per instant, since alert ids hash it."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def interval_key(start: datetime) -> str:
    return start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def key_to_datetime(key: str) -> datetime:
    return datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def dataset_path(root: str, dataset: str, use_case: str) -> str:
    """The folder of one dataset of one use case (the base path for partition discovery)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}")
    return f"{root.rstrip('/')}/{dataset}/use_case={use_case}"


def partition_path(root: str, dataset: str, use_case: str, start: datetime) -> str:
    return f"{dataset_path(root, dataset, use_case)}/interval={interval_key(start)}"


# --- side files on any Hadoop FileSystem ---------------------------------------------------


def _fs_and_path(spark: Any, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    return hpath.getFileSystem(conf), hpath


def exists(spark: Any, path: str) -> bool:
    fs, hpath = _fs_and_path(spark, path)
    return bool(fs.exists(hpath))


def list_partitions(spark: Any, root: str, dataset: str, use_case: str) -> list[str]:
    """Interval keys that have a partition of this dataset, sorted oldest first."""
    fs, hpath = _fs_and_path(spark, dataset_path(root, dataset, use_case))
    if not fs.exists(hpath):
        return []
    keys = []
    for status in fs.listStatus(hpath):
        name = status.getPath().getName()
        if status.isDirectory() and name.startswith("interval="):
            keys.append(name.split("=", 1)[1])
    return sorted(keys)


def write_text(spark: Any, path: str, text: str) -> None:
    """Write a small text file, replacing it (create with overwrite is atomic enough here)."""
    fs, hpath = _fs_and_path(spark, path)
    stream = fs.create(hpath, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def read_text(spark: Any, path: str) -> str:
    fs, hpath = _fs_and_path(spark, path)
    jvm = spark.sparkContext._jvm
    stream = fs.open(hpath)
    try:
        data = jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
    finally:
        stream.close()
    return bytes(data).decode("utf-8")


def write_json(spark: Any, path: str, obj: Any) -> None:
    write_text(spark, path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(spark: Any, path: str) -> Any:
    return json.loads(read_text(spark, path))


def delete(spark: Any, path: str) -> None:
    fs, hpath = _fs_and_path(spark, path)
    if fs.exists(hpath):
        fs.delete(hpath, True)


def list_names(spark: Any, folder: str) -> list[str]:
    """Names of a folder's children, sorted; [] when the folder does not exist."""
    fs, hpath = _fs_and_path(spark, folder)
    if not fs.exists(hpath):
        return []
    return sorted(status.getPath().getName() for status in fs.listStatus(hpath))


class HadoopStore:
    """The outbox's text store on any Hadoop FileSystem (local, HDFS, s3a), via the JVM."""

    def __init__(self, spark: Any) -> None:
        self._spark = spark

    def read_text(self, path: str) -> str | None:
        return read_text(self._spark, path) if exists(self._spark, path) else None

    def write_text(self, path: str, text: str) -> None:
        """Write beside, then rename over: a reader never sees half a file where rename is
        atomic (local, HDFS); on object stores the rename is a copy of a complete object."""
        write_text(self._spark, f"{path}.tmp", text)
        fs, hpath = _fs_and_path(self._spark, path)
        _, tmp = _fs_and_path(self._spark, f"{path}.tmp")
        if fs.exists(hpath):
            fs.delete(hpath, False)
        if not fs.rename(tmp, hpath):
            raise OSError(f"could not rename {path}.tmp to {path}")

    def list_names(self, folder: str) -> list[str]:
        return list_names(self._spark, folder)
