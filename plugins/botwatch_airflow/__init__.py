"""Airflow side of botwatch: the DAG factory that turns use-case YAML into DAGs."""
