"""Small side files (JSON run records, outbox text) on any Hadoop FileSystem.

They go through Hadoop's FileSystem API (via the session's JVM) so that the same code works on a
local folder, HDFS or s3a:// object storage. This is the one place that looks a FileSystem up.
"""

from __future__ import annotations

import json
from typing import Any

from spark_jobs.lake.layout import dataset_path


def filesystem(spark: Any, path: str) -> tuple[Any, Any]:
    """(Hadoop FileSystem, Hadoop Path) of ``path``: the scheme (``file:``, ``hdfs:``,
    ``s3a:``) picks the FileSystem, configured as the session's Hadoop configuration says."""
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    return hpath.getFileSystem(conf), hpath


def glob(spark: Any, pattern: str) -> list[Any]:
    """The FileStatus of every file and folder a Hadoop glob matches; [] when none does
    (Hadoop returns null for a pattern without glob characters that names nothing)."""
    fs, hpath = filesystem(spark, pattern)
    return list(fs.globStatus(hpath) or [])


def exists(spark: Any, path: str) -> bool:
    fs, hpath = filesystem(spark, path)
    return bool(fs.exists(hpath))


def list_partitions(spark: Any, root: str, dataset: str, use_case: str) -> list[str]:
    """Interval keys that have a partition of this dataset, sorted oldest first."""
    fs, hpath = filesystem(spark, dataset_path(root, dataset, use_case))
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
    fs, hpath = filesystem(spark, path)
    stream = fs.create(hpath, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def read_text(spark: Any, path: str) -> str:
    fs, hpath = filesystem(spark, path)
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
    fs, hpath = filesystem(spark, path)
    if fs.exists(hpath):
        fs.delete(hpath, True)


def list_names(spark: Any, folder: str) -> list[str]:
    """Names of a folder's children, sorted; [] when the folder does not exist."""
    fs, hpath = filesystem(spark, folder)
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
        fs, hpath = filesystem(self._spark, path)
        _, tmp = filesystem(self._spark, f"{path}.tmp")
        if fs.exists(hpath):
            fs.delete(hpath, False)
        if not fs.rename(tmp, hpath):
            raise OSError(f"could not rename {path}.tmp to {path}")

    def list_names(self, folder: str) -> list[str]:
        return list_names(self._spark, folder)
