"""End to end through Airflow: `airflow dags test` runs the six spark-submit stages of a use case
and its deliver task.

Two DAG runs only (each costs minutes of JVM starts): one on a day of the real sample logs that
must end in alerts delivered to a Slack-style webhook and an SMTP server on loopback, both found
through Airflow connections; one on corrupted logs that the validate gate must stop before any
feature.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.support.airflow_dags import airflow_test_env, dags_test, partition, write_usecase
from tests.support.loopback_http import free_port
from tests.support.paths import REPO, SAMPLE_LOG

pytestmark = pytest.mark.e2e


HOOK_SECRET = "e2e-signing-secret"


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[dict, bytes]] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receivers():
    """A webhook receiver and an SMTP server on loopback, for the DAG's deliver task."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Inbox(Sink):
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
            self.messages.append(envelope.content)
            return "250 OK"

    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        yield {"hook_port": hook.server_address[1], "smtp_port": smtp.port, "inbox": inbox}
    finally:
        smtp.stop()
        hook.shutdown()
        hook.server_close()


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory, receivers):
    root = tmp_path_factory.mktemp("e2e")
    configs = root / "configs"
    sinks = [
        {"type": "file", "path": "alerts.jsonl"},
        {"type": "webhook", "name": "slack", "format": "slack", "conn_id": "bw_e2e_hook"},
        {"type": "email", "conn_id": "bw_e2e_smtp", "to": ["soc@example.org"]},
    ]
    config = yaml.safe_load((REPO / "usecase_configs" / "behavioural_bots.yaml").read_text())
    usecase = write_usecase(configs, alert={**config["alert"], "sinks": sinks})
    corrupted_logs = root / "corrupted" / "access.log.gz"
    corrupted_logs.parent.mkdir()
    _write_corrupted_copy(SAMPLE_LOG, corrupted_logs)
    text = usecase.read_text()
    text = text.replace("id: behavioural_bots", "id: corrupted_logs")
    text = text.replace(
        "path: ${BOTWATCH_LOGS:-tests/fixtures/logs/elastic_examples/*.gz}",
        f"path: {corrupted_logs}",
    )
    assert str(corrupted_logs) in text
    (configs / "corrupted_logs.yaml").write_text(text)

    connections = {
        "AIRFLOW_CONN_BW_E2E_HOOK": json.dumps(
            {
                "conn_type": "http",
                "host": f"http://127.0.0.1:{receivers['hook_port']}",
                "password": HOOK_SECRET,
                "extra": {"endpoint": "services/T000/B000"},
            }
        ),
        "AIRFLOW_CONN_BW_E2E_SMTP": json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": receivers["smtp_port"],
                "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "bw@example.org"},
            }
        ),
    }
    env = airflow_test_env(root, configs=configs, lake=root / "lake", extra=connections)
    return env, root / "lake"


def _write_corrupted_copy(source: Path, target: Path) -> None:
    """The real sample with a third of its lines mangled and impossible status codes."""
    with gzip.open(source, "rt", encoding="utf-8") as src, gzip.open(target, "wt") as dst:
        for number, line in enumerate(src):
            if number % 3 == 0:
                dst.write("#@! corrupted by the test " + line.rstrip("\n")[::-1] + "\n")
            else:
                dst.write(line.replace('" 200 ', '" 999 ', 1))


def test_dag_run_on_real_logs_writes_and_delivers_alerts(airflow_env, receivers):
    env, lake = airflow_env
    # The run whose logical date is 2015-05-19 covers the data interval 2015-05-18 .. 05-19.
    result = dags_test(env, "behavioural_bots", "2015-05-19T00:00:00+00:00")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    key = "20150518T000000Z"
    for dataset in ("parsed", "quarantine", "features", "scores", "alerts"):
        assert any(partition(lake, dataset, "behavioural_bots", key).glob("*.parquet")), dataset
    runs = partition(lake, "runs", "behavioural_bots", key)
    ingest = json.loads((runs / "ingest.json").read_text())
    assert ingest["read"] == ingest["parsed"] + ingest["quarantined"] + ingest["out_of_window"]
    assert ingest["parsed"] > 2000
    outbox = partition(lake, "outbox", "behavioural_bots", key) / "alerts.jsonl"
    alerts = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert alerts, "the day's outliers should raise alerts"
    ids = sorted(a["event"]["id"] for a in alerts)
    assert {a["event"]["start"] for a in alerts} == {"2015-05-18T00:00:00Z"}
    assert all(a["botwatch"]["score"] >= 95 and a["botwatch"]["top_features"] for a in alerts)
    filed = [json.loads(line) for line in (lake / "alerts.jsonl").read_text().splitlines()]
    assert sorted(a["event"]["id"] for a in filed) == ids

    # Slack-format webhook through an Airflow connection: each alert once, signed.
    keys = sorted(headers["Idempotency-Key"] for headers, _ in _Hook.received)
    assert keys == ids
    for headers, body in _Hook.received:
        signed = f"{headers['X-Botwatch-Timestamp']}.".encode() + body
        expected = hmac.new(HOOK_SECRET.encode(), signed, hashlib.sha256).hexdigest()
        assert headers["X-Botwatch-Signature"] == f"sha256={expected}"
        assert "blocks" in json.loads(body)
    # E-mail through an Airflow SMTP connection: one digest for the run.
    (mail,) = receivers["inbox"].messages
    assert b"soc@example.org" in mail and ids[0].encode() in mail

    deliver = json.loads((runs / "deliver.json").read_text())
    assert [s["delivered"] for s in deliver["sinks"]] == [len(ids)] * 3
    report = partition(lake, "reports", "behavioural_bots", key) / "report.html"
    html = report.read_text(encoding="utf-8")
    assert 'id="alerts"' in html and html.count("data:image/png;base64,") == 3

    # Every task log ends with its stage summary, and Spark's start-up INFO stays out.
    output = result.stdout + result.stderr
    for stage in ("ingest", "validate", "feature", "train", "score", "alert", "deliver"):
        assert f"botwatch {stage} ok  use case behavioural_bots" in output, stage
    assert "interval  2015-05-18 00:00 → 2015-05-19 00:00 UTC (24 h)" in output
    assert "INFO SparkContext: Running Spark version" not in output


def test_corrupted_logs_fail_the_validate_gate(airflow_env):
    env, lake = airflow_env
    result = dags_test(env, "corrupted_logs", "2015-05-19T00:00:00+00:00")
    assert result.returncode != 0
    key = "20150518T000000Z"
    validate = json.loads(
        (partition(lake, "runs", "corrupted_logs", key) / "validate.json").read_text()
    )
    assert validate["success"] is False
    assert any(partition(lake, "validation", "corrupted_logs", key).glob("*.json"))
    assert "botwatch validate FAILED (quality gate)  use case corrupted_logs" in (
        result.stdout + result.stderr
    )
    # Nothing downstream of the gate ran.
    assert not partition(lake, "features", "corrupted_logs", key).exists()
    assert not partition(lake, "scores", "corrupted_logs", key).exists()
