"""Airflow DAG file that fails to import while any use-case config is invalid.

Invalid configs must be visible (an import error naming file, key and reason) without breaking
the DAGs of the valid ones, which botwatch_usecases.py still builds. Import errors are per file,
hence this separate file. The project folder is found as in botwatch_usecases.py.
"""

from pathlib import Path

from botwatch_airflow.dag_factory import raise_config_errors

PROJECT = Path(__file__).resolve().parents[1]

raise_config_errors(home=PROJECT)
