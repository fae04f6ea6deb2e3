"""Airflow DAG file that fails to import while any use-case config is invalid.

Invalid configs must be visible (an import error naming file, key and reason) without breaking
the DAGs of the valid ones, which botwatch_usecases.py still builds. Import errors are per file,
hence this separate file.
"""

from botwatch_airflow.dag_factory import raise_config_errors

raise_config_errors()
