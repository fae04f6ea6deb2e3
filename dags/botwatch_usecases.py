"""Airflow DAG file: one DAG per valid YAML file in usecase_configs/ (see botwatch_airflow)."""

from botwatch_airflow.dag_factory import build_all

_dags, _errors = build_all()
globals().update(_dags)
