"""The stage runner and the list of stages: the one place that says which stages a run has.

Importing this package is cheap (no Spark, no Airflow): the DAG factory, its tests and the CLI
read the stage names from here at DAG-parse time; ``submit`` says how one stage is submitted.
"""

#: The Spark applications of one run, in order; each is ``spark_jobs/<name>.py`` with ``main``.
SPARK_STAGES = ("ingest", "validate", "feature", "train", "score", "alert")
#: After ``alert``, a plain Python task sends the outbox (it needs Airflow's connections).
DELIVER_STAGE = "deliver"
#: Every stage ``botwatch run`` can run by hand, in run order.
STAGES = (*SPARK_STAGES, DELIVER_STAGE)
