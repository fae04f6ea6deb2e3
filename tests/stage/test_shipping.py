"""The code a cluster's executors import: the driver's own ``spark_jobs``, zipped (no JVM)."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from spark_jobs.stage import shipping


@pytest.mark.parametrize(
    ("master", "setting", "ships"),
    [
        ("local[*]", "auto", False),
        ("local[2]", "AUTO", False),
        ("spark://127.0.0.1:7077", "auto", True),
        ("yarn", "auto", True),
        ("k8s://https://api:6443", "false", False),
        ("local[*]", "true", True),
    ],
)
def test_code_ships_to_cluster_executors_only_unless_told(master, setting, ships):
    assert shipping.should_ship(master, setting) is ships


def test_an_unknown_setting_is_an_error_not_a_guess():
    with pytest.raises(ValueError, match=r"spark.botwatch.shipCode must be auto, true or false"):
        shipping.should_ship("yarn", "yes")


def test_the_zip_holds_every_module_and_data_file_but_no_bytecode(tmp_path):
    source = shipping.package_dir()
    archive = shipping.zip_package(source, tmp_path)
    names = set(zipfile.ZipFile(archive).namelist())
    on_disk = {
        f"spark_jobs/{p.relative_to(source).as_posix()}"
        for p in source.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert names == on_disk
    assert {"spark_jobs/features/python_described.py", "spark_jobs/conf/log4j2.properties"} <= names


def test_a_python_with_the_zip_first_on_its_path_imports_spark_jobs_from_it(tmp_path):
    """What an executor does with an ``addPyFile`` zip: it wins over any installed copy."""
    archive = shipping.zip_package(shipping.package_dir(), tmp_path)
    code = (
        f"import sys; sys.path.insert(0, {str(archive)!r}); "
        "import spark_jobs.features.python_described as m; print(m.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == f"{archive}/spark_jobs/features/python_described.py"
