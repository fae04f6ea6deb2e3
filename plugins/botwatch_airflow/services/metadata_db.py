"""Connect arguments for Airflow's metadata database, named by
``AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS`` for every Airflow process ``make`` starts.

On the embedded SQLite database, the scheduler, the DAG processor, the API server, each task
runner and the ``airflow backfill create`` CLI all write to one file. Python's sqlite3 gives up
on a locked database after 5 s; a writer that gives up rolls its transaction back, and Airflow
3.3's scheduler then dies on a run that vanished under it (``ObjectDeletedError``, seen here
during a backfill). Waiting up to a minute for the lock makes those rollbacks rare. Any other
database (PostgreSQL, MySQL) keeps its driver's defaults: its connect arguments differ.
"""

from __future__ import annotations

#: How long a SQLite connection waits for another process's write lock, in seconds.
SQLITE_BUSY_TIMEOUT_S = 60


def connect_args(sql_alchemy_conn: str) -> dict[str, object]:
    """The connect arguments for the metadata database at ``sql_alchemy_conn``."""
    if sql_alchemy_conn.startswith("sqlite"):
        return {"timeout": SQLITE_BUSY_TIMEOUT_S}
    return {}


def _configured_conn() -> str:
    from airflow.configuration import conf

    return conf.get("database", "sql_alchemy_conn", fallback="sqlite")


def __getattr__(name: str) -> object:
    """``CONNECT_ARGS``, what Airflow imports (``conf.getimport``) when it builds its engine:
    computed then, so importing this module does not load Airflow's configuration."""
    if name == "CONNECT_ARGS":
        return connect_args(_configured_conn())
    raise AttributeError(name)


#: The setting that points Airflow at ``CONNECT_ARGS``.
SETTING = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": f"{__name__}.CONNECT_ARGS"}
