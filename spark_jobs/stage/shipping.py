"""Ship the driver's own ``spark_jobs`` code to the executors of a cluster.

Executors run Python too: the ``mapInPandas`` describers of enrichment are functions of
``spark_jobs``, pickled by reference, so every executor must import ``spark_jobs``, and the
*same* ``spark_jobs`` as the driver. On ``local[*]`` the executors are threads of the driver and
nothing is needed. On a cluster the Python environment of the executors (a venv-pack archive,
a container image, the venv of this machine) has the third-party dependencies, which change
rarely; the botwatch code changes at every deploy and is zipped here from wherever the driver
imported it, and added with ``addPyFile`` before the first job. Executors put the zip in front
of their ``sys.path``, so it wins over any older copy installed in their environment (an
editable install pointing at another checkout, an image built last week).

Over Spark Connect the zip is a session artifact (``addArtifacts(pyfile=True)``): the server's
Python workers may have been started from another checkout, or an older commit, than this
client, so ``auto`` always ships there (a zip of a few hundred kB, added in well under a second).

``spark.botwatch.shipCode``: ``auto`` (default: ship over Connect and unless the master is
``local``), ``true`` or ``false`` (the executors' environment has the right version installed).
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import spark_jobs
from spark_jobs.session import is_remote, master_of

log = logging.getLogger("botwatch")

SHIP_CONF = "spark.botwatch.shipCode"
_SKIPPED_DIRS = {"__pycache__"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def package_dir() -> Path:
    """The folder the running ``spark_jobs`` was imported from."""
    return Path(spark_jobs.__file__).resolve().parent


def should_ship(master: str, setting: str = "auto", remote: bool = False) -> bool:
    """Whether executors need the code shipped, from the master URL, whether the session is a
    Connect client (``remote``) and ``spark.botwatch.shipCode``."""
    value = setting.strip().lower()
    if value not in {"auto", "true", "false"}:
        raise ValueError(f"{SHIP_CONF} must be auto, true or false, not {setting!r}")
    if value == "auto":
        return remote or not master.startswith("local")
    return value == "true"


def zip_package(source: Path, target_dir: Path) -> Path:
    """``target_dir/spark_jobs.zip`` with every file of the package ``source`` (its data files
    too: templates and conf are read through ``importlib.resources``), bytecode left out."""
    target = target_dir / f"{source.name}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            if path.is_dir() or _SKIPPED_DIRS & set(relative.parts):
                continue
            if path.suffix in _SKIPPED_SUFFIXES:
                continue
            archive.write(path, Path(source.name) / relative)
    return target


#: Session -> the zip shipped to it: a session takes an artifact's name once.
_shipped: dict[Any, Path] = {}


def ship_code(spark: Any) -> Path | None:
    """Zip ``spark_jobs`` and add it to the session's Python path on every executor.

    :returns: the zip, or None when the master is local or shipping is off.
    """
    remote = is_remote(spark)
    if not should_ship(master_of(spark), spark.conf.get(SHIP_CONF, "auto"), remote):
        return None
    session = getattr(spark, "session_id", None) if remote else id(spark.sparkContext)
    if session in _shipped:
        return _shipped[session]  # a session a caller reuses (in-process runs) has it already
    folder = Path(tempfile.mkdtemp(prefix="botwatch-code-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    archive = zip_package(package_dir(), folder)
    if remote:
        spark.addArtifacts(str(archive), pyfile=True)
    else:
        spark.sparkContext.addPyFile(str(archive))
    _shipped[session] = archive
    log.info(
        "shipped spark_jobs from %s to the executors (%d kB)",
        package_dir(),
        archive.stat().st_size // 1024,
    )
    return archive
