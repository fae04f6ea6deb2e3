# botwatch: two commands do all the set-up on a fresh machine.
#   make demo   install, prepare Airflow (SQLite, no examples), run the default use case end to end
#   make test   install, run the whole test suite
# Everything is installed into ./.venv from the committed uv.lock; Airflow lives in ./.airflow.

SHELL := /bin/bash
ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
UV_TOOL_VENV := $(ROOT)/.tools/uvenv
UV := $(shell command -v uv 2>/dev/null || echo $(UV_TOOL_VENV)/bin/uv)

# A JDK 17+ for Spark: $JAVA_HOME if it is one, else the Debian/Ubuntu OpenJDK 17 folder, else
# the `java` on PATH. `check-java` says what to install when none fits.
JAVA_HOME ?= $(shell for d in /usr/lib/jvm/java-17-openjdk-* /usr/lib/jvm/java-21-openjdk-*; do \
	[ -x "$$d/bin/java" ] && { echo "$$d"; break; }; done)
export JAVA_HOME

export AIRFLOW_HOME ?= $(ROOT)/.airflow
# The project home: relative paths in use-case configs, the lake and expectations/ resolve here.
export BOTWATCH_HOME ?= $(ROOT)
export AIRFLOW__CORE__DAGS_FOLDER := $(ROOT)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(ROOT)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION := True
# Where the stages run: local[*], or a cluster's master URL (e.g. `make airflow
# SPARK_MASTER=spark://127.0.0.1:7077` after `make spark-cluster`; docs/cluster.md).
# The JSON form: the URI form spark://local[*] silently falls back to yarn.
SPARK_MASTER ?= local[*]
export SPARK_MASTER
# How the stages get their Spark: `connect` (default) makes every stage a thin client of one
# long-lived Spark Connect server on 127.0.0.1:$(SPARK_CONNECT_PORT), running on $(SPARK_MASTER)
# and started by make airflow / make demo (make spark-connect by hand); `classic` gives each
# stage a driver JVM of its own, as spark-submit makes it (YARN, Kubernetes). docs/cluster.md.
SPARK_MODE ?= connect
SPARK_CONNECT_PORT ?= 15002
export SPARK_CONNECT_PORT
ifeq ($(SPARK_MODE),connect)
export BOTWATCH_SPARK_REMOTE ?= sc://127.0.0.1:$(SPARK_CONNECT_PORT)
CONNECT_SERVER := spark-connect
else ifeq ($(SPARK_MODE),classic)
export BOTWATCH_SPARK_REMOTE :=
CONNECT_SERVER :=
else
$(error SPARK_MODE must be connect or classic, not $(SPARK_MODE))
endif
export AIRFLOW_CONN_SPARK_DEFAULT := {"conn_type":"spark","host":"$(SPARK_MASTER)"}
# SQLite metadata connections wait a minute for a lock (plugins/botwatch_airflow/services/metadata_db.py).
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS ?= botwatch_airflow.services.metadata_db.CONNECT_ARGS
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYSPARK_PYTHON := $(VENV)/bin/python
export GX_ANALYTICS_ENABLED := false
# botwatch's spark-submit first: over Connect a stage runs as the Python client it is, without
# spark-submit's launcher JVM; anything else goes to the venv's spark-submit (stage/launcher.py).
export PATH := $(ROOT)/plugins/botwatch_airflow/bin:$(VENV)/bin:$(PATH)

# demo options: LOGS=glob of other logs (e.g. '../shared/data/logs/aircareonline/*{start:%Y-%m}.log.gz'),
# FROM/TO=first/last day to run (default: the days the logs cover), USECASE=id.
USECASE ?= behavioural_bots
DEMO_ARGS := $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO))
ifdef LOGS
export BOTWATCH_LOGS := $(LOGS)
endif

.PHONY: demo test test-fast install check-java airflow-db airflow airflow-down backfill spark-cluster spark-cluster-down spark-connect spark-connect-down down lint bench-clean clean

$(UV):
	python3 -m venv $(UV_TOOL_VENV)
	$(UV_TOOL_VENV)/bin/pip install --quiet uv

$(VENV)/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode --python python3.11
	touch $@

install: check-java $(VENV)/.installed

check-java:
	@v=$$("$${JAVA_HOME:+$$JAVA_HOME/bin/}java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1); \
	if [ -z "$$v" ] || [ "$$v" -lt 17 ]; then \
	  echo "botwatch needs a JDK 17 or newer for Spark (found: $${v:-none}): install openjdk-17-jdk-headless (apt) or set JAVA_HOME to one." >&2; \
	  exit 1; fi

airflow-db: install
	@mkdir -p $(AIRFLOW_HOME)
	airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || { tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1; }

demo: airflow-db
	python -m botwatch_airflow.demo --usecase $(USECASE) $(DEMO_ARGS)

# The Airflow services (UI, scheduler, DAG processor) on 127.0.0.1:$(AIRFLOW_PORT), in the
# background; prints the URL and the admin login. `make down` stops every process of them.
AIRFLOW_PORT ?= 8080
export AIRFLOW_PORT
airflow: airflow-db $(CONNECT_SERVER)
	python -m botwatch_airflow.services.airflow_services up

airflow-down:
	@if [ -x $(VENV)/bin/python ]; then python -m botwatch_airflow.services.airflow_services down; fi

# A backfill through the running scheduler (make airflow), in the use case's local days:
#   make backfill USECASE=behavioural_bots FROM=2015-05-17 TO=2015-05-20
backfill: install
	python -m botwatch_airflow.services.backfill --usecase $(USECASE) --from $(FROM) --to $(TO)

# A Spark standalone master and two workers on 127.0.0.1 (master 7077, UI 8090, workers' UIs
# 8091-8092; SPARK_MASTER_PORT, SPARK_MASTER_WEBUI_PORT, SPARK_WORKER_WEBUI_PORT,
# SPARK_WORKER_CORES, SPARK_WORKER_MEMORY override), from the venv's pyspark. See docs/cluster.md.
spark-cluster: install
	python -m botwatch_airflow.services.spark_cluster up

spark-cluster-down:
	@if [ -x $(VENV)/bin/python ]; then python -m botwatch_airflow.services.spark_cluster down; fi

# The Spark Connect server of SPARK_MODE=connect (port SPARK_CONNECT_PORT, 15002), on SPARK_MASTER.
spark-connect: install
	python -m botwatch_airflow.services.spark_connect up

spark-connect-down:
	@if [ -x $(VENV)/bin/python ]; then python -m botwatch_airflow.services.spark_connect down; fi

# All of them, even when one fails (then make down fails too).
down:
	@status=0; \
	$(MAKE) --no-print-directory airflow-down || status=$$?; \
	$(MAKE) --no-print-directory spark-connect-down || status=$$?; \
	$(MAKE) --no-print-directory spark-cluster-down || status=$$?; \
	exit $$status

# The tests start a Connect server of their own on a free port (SPARK_MODE=classic: none, a
# classic session); BOTWATCH_TEST_SPARK_REMOTE=sc://... reuses a running one instead.
TEST_ENV := BOTWATCH_SPARK_REMOTE=$(BOTWATCH_TEST_SPARK_REMOTE) BOTWATCH_TEST_SPARK_MODE=$(SPARK_MODE)
test: install
	$(TEST_ENV) python -m pytest -q tests

# Every test that needs no JVM (schema, sinks, rendering, metrics, outbox, DAG factory...).
test-fast: install
	$(TEST_ENV) python -m pytest -q -m "not spark" tests

lint: install
	ruff check . && ruff format --check .

clean:
	rm -rf $(ROOT)/lake $(ROOT)/.airflow
