"""Small side files (JSON run records, outbox text) and file listings on any file system.

They go through ``pyarrow.fs`` in this process, not through the JVM, so the same code works in a
classic session and over Spark Connect (where this process has no JVM): a local folder or
``file:`` URI, ``s3://`` / ``s3a://`` object storage, ``gs://``, ``hdfs://`` (with libhdfs).
This is the one place that looks a file system up.

``s3a://`` is Hadoop's name for S3: it is read with pyarrow's S3 file system, configured from the
same ``spark.hadoop.fs.s3a.*`` settings the session's readers use (endpoint, keys, region), so a
lake on object storage needs one set of settings. Over Spark Connect the client and the server
must see the same storage (one machine, or object storage).
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from pyarrow import fs as pafs

from spark_jobs.lake.layout import dataset_path

#: ``spark.hadoop.fs.s3a.*`` keys and the pyarrow S3FileSystem argument each one sets.
_S3A_OPTIONS = {
    "endpoint": "endpoint_override",
    "access.key": "access_key",
    "secret.key": "secret_key",
    "endpoint.region": "region",
}
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class FileStat:
    """One file a glob matched: its path as given back to Spark, size and mtime (epoch ms)."""

    path: str
    size: int
    mtime_ms: int
    is_file: bool = True


def _s3_options(spark: Any) -> dict[str, str]:
    options: dict[str, str] = {}
    if spark is None:
        return options
    for key, arg in _S3A_OPTIONS.items():
        try:
            value = spark.conf.get(f"spark.hadoop.fs.s3a.{key}", None)
        except Exception:  # noqa: BLE001 - a session that cannot answer: pyarrow's defaults
            value = None
        if value:
            options[arg] = value
    return options


def filesystem(spark: Any, path: str) -> tuple[pafs.FileSystem, str, str]:
    """(file system, path inside it, prefix to put back) for ``path``.

    ``file:/x``, ``file:///x`` and ``/x`` are local; ``s3a://`` is read as ``s3://``.
    """
    parsed = urlparse(path)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file") or len(scheme) == 1:  # len 1: a Windows drive letter
        local = parsed.path if scheme == "file" else path
        return pafs.LocalFileSystem(), local, "file:" if scheme == "file" else ""
    if scheme in ("s3", "s3a"):
        s3 = pafs.S3FileSystem(**_s3_options(spark))
        return s3, f"{parsed.netloc}{parsed.path}", f"{scheme}://"
    fs, inner = pafs.FileSystem.from_uri(path)
    return fs, inner, f"{scheme}://{parsed.netloc}"


def _info(spark: Any, path: str) -> pafs.FileInfo:
    fs, inner, _ = filesystem(spark, path)
    return fs.get_file_info(inner)


def exists(spark: Any, path: str) -> bool:
    return _info(spark, path).type != pafs.FileType.NotFound


def expand_braces(pattern: str) -> list[str]:
    """``a{b,c}d`` -> ``abd``, ``acd`` (Hadoop globs have braces; ``fnmatch`` has not)."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    out: list[str] = []
    for option in match.group(1).split(","):
        out.extend(expand_braces(head + option + tail))
    return out


def _walk_glob(fs: pafs.FileSystem, pattern: str) -> list[pafs.FileInfo]:
    """Hadoop-style glob, one path segment at a time: ``*`` never crosses a ``/``."""
    parts = pattern.split("/")
    fixed = 0
    while fixed < len(parts) and not _GLOB_CHARS.search(parts[fixed]):
        fixed += 1
    base = "/".join(parts[:fixed]) or ("/" if pattern.startswith("/") else ".")
    if fixed == len(parts):
        info = fs.get_file_info(base)
        return [] if info.type == pafs.FileType.NotFound else [info]
    current = [base]
    for depth, part in enumerate(parts[fixed:]):
        last = depth == len(parts) - fixed - 1
        found = []
        for folder in current:
            info = fs.get_file_info(folder)
            if info.type != pafs.FileType.Directory:
                continue
            for child in fs.get_file_info(pafs.FileSelector(folder)):
                if fnmatch.fnmatchcase(child.base_name, part) and (
                    last or child.type == pafs.FileType.Directory
                ):
                    found.append(child)
        current = [info.path for info in found]
        if last:
            return found
    return []


def glob(spark: Any, pattern: str) -> list[FileStat]:
    """Every file and folder a Hadoop-style glob (``*``, ``?``, ``[..]``, ``{a,b}``) matches,
    sorted by path; [] when none does."""
    fs, inner, prefix = filesystem(spark, pattern)
    seen: dict[str, FileStat] = {}
    for one in expand_braces(inner):
        for info in _walk_glob(fs, one):
            path = prefix + info.path
            mtime = info.mtime_ns // 1_000_000 if info.mtime_ns is not None else 0
            seen[path] = FileStat(path, info.size or 0, mtime, info.type == pafs.FileType.File)
    return [seen[p] for p in sorted(seen)]


def list_partitions(spark: Any, root: str, dataset: str, use_case: str) -> list[str]:
    """Interval keys that have a partition of this dataset, sorted oldest first."""
    folder = dataset_path(root, dataset, use_case)
    return sorted(
        name.split("=", 1)[1]
        for name, is_dir in _children(spark, folder)
        if is_dir and name.startswith("interval=")
    )


def _children(spark: Any, folder: str) -> list[tuple[str, bool]]:
    fs, inner, _ = filesystem(spark, folder)
    if fs.get_file_info(inner).type != pafs.FileType.Directory:
        return []
    return [
        (info.base_name, info.type == pafs.FileType.Directory)
        for info in fs.get_file_info(pafs.FileSelector(inner))
    ]


def write_text(spark: Any, path: str, text: str) -> None:
    """Write a small text file, replacing it (its folder is made when missing)."""
    fs, inner, _ = filesystem(spark, path)
    parent = inner.rsplit("/", 1)[0]
    if parent and parent != inner:
        fs.create_dir(parent, recursive=True)
    with fs.open_output_stream(inner) as stream:
        stream.write(text.encode("utf-8"))


def read_text(spark: Any, path: str) -> str:
    fs, inner, _ = filesystem(spark, path)
    with fs.open_input_stream(inner) as stream:
        return stream.read().decode("utf-8")


def write_json(spark: Any, path: str, obj: Any) -> None:
    write_text(spark, path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(spark: Any, path: str) -> Any:
    return json.loads(read_text(spark, path))


def replace_text(spark: Any, path: str, text: str) -> None:
    """Write beside, then rename over: a reader never sees half a file where rename is atomic
    (local, HDFS); on object stores the rename is a copy of a complete object."""
    write_text(spark, f"{path}.tmp", text)
    rename(spark, f"{path}.tmp", path)


def stat(spark: Any, path: str) -> FileStat | None:
    """Size and mtime of one file, or None when there is no file there."""
    info = _info(spark, path)
    if info.type != pafs.FileType.File:
        return None
    return FileStat(path, int(info.size or 0), int(info.mtime_ns or 0) // 1_000_000)


#: Bytes read from each end of a file for its ``digest``.
DIGEST_BYTES = 1 << 20


def digest(spark: Any, path: str, size: int) -> str:
    """BLAKE2b of the size and the first and last MiB: tells a file whose mtime moved but whose
    bytes did not (a copy, a ``touch``) from a rewritten one, without reading all of it."""
    import hashlib

    fs, inner, _ = filesystem(spark, path)
    hasher = hashlib.blake2b(str(size).encode(), digest_size=16)
    with fs.open_input_file(inner) as handle:
        hasher.update(handle.read(min(size, DIGEST_BYTES)))
        if size > DIGEST_BYTES:
            handle.seek(max(DIGEST_BYTES, size - DIGEST_BYTES))
            hasher.update(handle.read())
    return hasher.hexdigest()


def delete(spark: Any, path: str) -> None:
    """Remove a file or a folder with everything in it; nothing when it does not exist."""
    fs, inner, _ = filesystem(spark, path)
    kind = fs.get_file_info(inner).type
    if kind == pafs.FileType.Directory:
        fs.delete_dir(inner)
    elif kind == pafs.FileType.File:
        fs.delete_file(inner)


def rename(spark: Any, source: str, target: str) -> None:
    """Move ``source`` to ``target`` on the same file system (atomic on local disks and HDFS;
    a copy of complete objects on object stores)."""
    fs, inner_source, _ = filesystem(spark, source)
    _, inner_target, _ = filesystem(spark, target)
    fs.move(inner_source, inner_target)


def list_names(spark: Any, folder: str) -> list[str]:
    """Names of a folder's children, sorted; [] when the folder does not exist."""
    return sorted(name for name, _ in _children(spark, folder))


class LakeTextStore:
    """The outbox's text store on the lake's file system (local, s3, HDFS)."""

    def __init__(self, spark: Any) -> None:
        self._spark = spark

    def read_text(self, path: str) -> str | None:
        return read_text(self._spark, path) if exists(self._spark, path) else None

    def write_text(self, path: str, text: str) -> None:
        replace_text(self._spark, path, text)

    def list_names(self, folder: str) -> list[str]:
        return list_names(self._spark, folder)
