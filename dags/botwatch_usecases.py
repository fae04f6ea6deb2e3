"""Airflow DAG file: one DAG per valid YAML file in usecase_configs/ (see botwatch_airflow).

The project folder is the one this file is deployed in (``<project>/dags/``): its
``usecase_configs/`` are the use cases, and their relative paths resolve against it.
"""

from pathlib import Path

from botwatch_airflow.dag_factory import build_all

PROJECT = Path(__file__).resolve().parents[1]

_dags, _errors = build_all(home=PROJECT)
globals().update(_dags)
