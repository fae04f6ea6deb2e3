"""The deliver step: outbox -> sinks, the ledger, retries by later runs, secrets (no Spark).

The retry test uses a real webhook receiver on loopback that is down for the first run and
comes back for the second: it must then get every alert exactly once, and never again.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from spark_jobs.alerting import outbox
from spark_jobs.alerting.connections import build_sink, env_connection, parse_uri, webhook_url
from spark_jobs.alerting.delivery import check, deliver
from spark_jobs.alerting.documents import to_document
from spark_jobs.config.loading import load_usecase
from spark_jobs.errors import DeliveryFailed, SinkSetupError
from spark_jobs.lake.layout import interval_key
from tests.support.loopback_http import free_port

DAY = timedelta(days=1)
D0 = datetime(2015, 5, 17, tzinfo=UTC)
STORE = outbox.LocalStore()


def _iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _doc(entity, start, score=99.0, model="m1"):
    record = {
        "alert_id": f"{entity}@{_iso(start)}-{model}",
        "use_case": "deliver_test",
        "status": "raised",
        "suppression": None,
        "severity": "critical",
        "entity": entity,
        "entity_key": "client",
        "client": entity,
        "user_agent": "bot/1.0",
        "score": score,
        "threshold": 95.0,
        "interval_start": _iso(start),
        "interval_end": _iso(start + DAY),
        "session": f"{entity}#0",
        "session_start": _iso(start),
        "session_end": _iso(start),
        "sessions": 1,
        "declared_crawler": False,
        "crawler_name": None,
        "model_version": model,
        "model_kind": "unsupervised",
        "requests": 40,
        "top_features": [],
        "sample_requests": [],
        "reason": f"score {score} >= 95",
    }
    return to_document(record, "test")


def _config(tmp_path, sinks_yaml, retry_days=7):
    path = tmp_path / "deliver_test.yaml"
    path.write_text(
        "id: deliver_test\ndescription: deliver test\nstart_date: 2015-05-17\n"
        "source: {path: /nonexistent/*.log}\nfeatures: [robots_txt, head_share]\n"
        f"alert: {{retry_days: {retry_days}, sinks: {sinks_yaml}}}\n",
        encoding="utf-8",
    )
    return load_usecase(path), str(tmp_path / "lake")


def _raise(usecase, root, start, docs):
    outbox.write_outbox(STORE, root, usecase.id, interval_key(start), docs)


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(
            {"key": self.headers["Idempotency-Key"], "doc": json.loads(body)}
        )
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_undelivered_alerts_are_retried_next_run_and_received_once(tmp_path):
    port = free_port()  # nobody listens yet: connection refused
    usecase, root = _config(
        tmp_path,
        f"[{{type: webhook, name: hook, url: 'http://127.0.0.1:{port}/hook', retries: 0}}, "
        "{type: file, path: alerts.jsonl}]",
    )
    _raise(usecase, root, D0, [_doc("1.1.1.1", D0), _doc("2.2.2.2", D0, 98.0)])

    first = deliver(usecase, D0, D0 + DAY, root)

    hook, file_sink = first["sinks"]
    assert (hook["pending"], hook["delivered"], hook["failed"]) == (2, 0, 2)
    assert "ConnectionRefused" in hook["error"] or "refused" in hook["error"].lower()
    assert (file_sink["delivered"], file_sink["failed"]) == (2, 0)  # one sink down: others go on
    with pytest.raises(DeliveryFailed, match="hook: 2 undelivered"):
        check(first)

    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", port), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        d1 = D0 + DAY
        _raise(usecase, root, d1, [_doc("3.3.3.3", d1)])
        second = deliver(usecase, d1, d1 + DAY, root)
        rerun = deliver(usecase, d1, d1 + DAY, root)  # a retried task or a rerun of the interval
        third = deliver(usecase, d1 + DAY, d1 + 2 * DAY, root)
    finally:
        server.shutdown()
        server.server_close()

    keys = [r["key"] for r in _Receiver.received]
    assert sorted(keys) == sorted(
        [
            _doc("1.1.1.1", D0)["event"]["id"],
            _doc("2.2.2.2", D0)["event"]["id"],
            _doc("3.3.3.3", d1)["event"]["id"],
        ]
    )
    assert [r["doc"]["event"]["id"] for r in _Receiver.received] == keys
    assert second["sinks"][0]["delivered"] == 3 and second["sinks"][1]["delivered"] == 1
    assert rerun["delivered"] == 0 and third["delivered"] == 0
    check(third)
    ledger = outbox.read_ledger(STORE, root, usecase.id, interval_key(D0), "hook")
    assert [(e["ok"], e["by_interval"]) for e in ledger] == [
        (False, "2015-05-17T00:00:00Z"),
        (False, "2015-05-17T00:00:00Z"),
        (True, "2015-05-18T00:00:00Z"),
        (True, "2015-05-18T00:00:00Z"),
    ]
    lines = (tmp_path / "lake" / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 3  # the file sink too got each alert once
    record = json.loads(
        (tmp_path / "lake")
        .joinpath("runs", "use_case=deliver_test", "interval=20150518T000000Z", "deliver.json")
        .read_text()
    )
    assert record["outbox_intervals"] == ["20150517T000000Z", "20150518T000000Z"]


def test_retry_window_ends_after_retry_days(tmp_path):
    usecase, root = _config(tmp_path, "[{type: file, path: alerts.jsonl}]", retry_days=1)
    _raise(usecase, root, D0, [_doc("1.1.1.1", D0)])

    later = D0 + 3 * DAY
    summary = deliver(usecase, later, later + DAY, root)

    assert summary["outbox_intervals"] == [] and summary["delivered"] == 0


def test_missing_secret_fails_that_sink_only_and_keeps_alerts_pending(tmp_path, monkeypatch):
    monkeypatch.delenv("BW_TEST_HOOK_URL", raising=False)
    usecase, root = _config(
        tmp_path,
        "[{type: webhook, name: slack, format: slack, url_env: BW_TEST_HOOK_URL}, {type: file}]",
    )
    _raise(usecase, root, D0, [_doc("1.1.1.1", D0)])

    summary = deliver(usecase, D0, D0 + DAY, root)

    slack, file_sink = summary["sinks"]
    assert slack["error"] == "sink slack url_env: environment variable BW_TEST_HOOK_URL is not set"
    assert (slack["failed"], file_sink["delivered"]) == (1, 1)
    assert outbox.read_ledger(STORE, root, usecase.id, interval_key(D0), "slack") == []


#: An Airflow HTTP connection in the JSON form, as a Slack webhook would be stored.
HOOK_CONN = json.dumps(
    {
        "conn_type": "http",
        "host": "hooks.example.org",
        "schema": "https",
        "password": "s3cret",
        "extra": {"endpoint": "/services/T1/B2"},
    }
)


def test_airflow_connection_uri_and_json_forms(monkeypatch):
    uri = "smtp://bot%40example.org:p%40ss@mail.example.org:587?from_email=a%40b.c&disable_ssl=true"
    conn = parse_uri(uri)
    assert (conn.conn_type, conn.host, conn.port) == ("smtp", "mail.example.org", 587)
    assert (conn.login, conn.password) == ("bot@example.org", "p@ss")
    assert conn.extra == {"from_email": "a@b.c", "disable_ssl": "true"}

    monkeypatch.setenv("AIRFLOW_CONN_HOOK_X", HOOK_CONN)
    conn = env_connection("hook_x")
    assert conn.extra["endpoint"] == "/services/T1/B2"
    with pytest.raises(SinkSetupError, match="AIRFLOW_CONN_NOPE"):
        env_connection("nope")


def test_sinks_built_from_connections(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_HOOK_X", HOOK_CONN)
    monkeypatch.setenv("AIRFLOW_CONN_MAIL", "smtp://u:p@127.0.0.1:2525?disable_ssl=true")
    usecase, root = _config(
        tmp_path,
        "[{type: webhook, conn_id: hook_x}, {type: email, to: [soc@example.org], "
        "conn_id: mail, from_email: botwatch@example.org}]",
    )
    hook_cfg, mail_cfg = usecase.alert.sinks

    assert webhook_url(hook_cfg, env_connection) == (
        "https://hooks.example.org/services/T1/B2",
        b"s3cret",
    )
    mail = build_sink(mail_cfg, root, env_connection)
    assert (mail.type, mail.name) == ("email", "email")
    assert os.environ["AIRFLOW_CONN_MAIL"]  # the secret stayed in the environment


def test_file_sink_appends_each_alert_once_and_repairs_a_cut_last_line(tmp_path):
    from spark_jobs.alerting.sinks.file_sink import FileSink

    path = tmp_path / "out" / "alerts.jsonl"
    sink = FileSink("file", path)
    a, b, c = _doc("1.1.1.1", D0), _doc("2.2.2.2", D0), _doc("3.3.3.3", D0)

    assert [r.detail for r in sink.deliver([a, b])] == ["written", "written"]
    assert [r.detail for r in sink.deliver([a, b])] == ["exists", "exists"]
    with path.open("a", encoding="utf-8") as out:  # a crash in the middle of writing c
        out.write(json.dumps(c)[:40])
    results = sink.deliver([b, c])

    assert [(r.ok, r.detail) for r in results] == [(True, "exists"), (True, "written")]
    ids = [json.loads(line)["event"]["id"] for line in path.read_text().splitlines()]
    assert ids == [a["event"]["id"], b["event"]["id"], c["event"]["id"]]
    assert sink.deliver([]) == []


def test_deliver_reads_a_remote_lake_through_fsspec(tmp_path):
    """Object-storage lakes are reached through fsspec; its in-memory filesystem stands in."""
    store = outbox.FsspecStore()
    usecase, _ = _config(tmp_path, "[{type: file, path: " + str(tmp_path / "a.jsonl") + "}]")
    root = "memory://botwatch-test-lake"
    outbox.write_outbox(store, root, usecase.id, interval_key(D0), [_doc("1.1.1.1", D0)])

    first = deliver(usecase, D0, D0 + DAY, root, store=outbox.store_for(root))
    again = deliver(usecase, D0, D0 + DAY, root, store=store)

    assert isinstance(outbox.store_for(root), outbox.FsspecStore)
    assert (first["delivered"], again["delivered"]) == (1, 0)
    assert store.list_names(f"{root}/deliveries/use_case=deliver_test") == [
        "interval=20150517T000000Z"
    ]
