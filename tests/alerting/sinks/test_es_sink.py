"""ElasticsearchSink with the real elasticsearch-py 9 client against a loopback fake of the
two endpoints it uses (PUT /_index_template/<name>, PUT /_bulk), which answers like
Elasticsearch does: product header, compatible-with content type, per-item bulk statuses."""

from __future__ import annotations

import json
import time

import pytest

from spark_jobs.alerting.sinks.es_sink import (
    ALERTS_INDEX_TEMPLATE,
    ElasticsearchSink,
    alerts_index_template,
)
from tests.support.loopback_http import LoopbackServer, Recorded, Reply, free_port
from tests.support.paths import alert_docs

DOCS = alert_docs()
IDS = [d["event"]["id"] for d in DOCS]
ES_HEADERS = {
    "X-Elastic-Product": "Elasticsearch",
    "Content-Type": "application/vnd.elasticsearch+json;compatible-with=9",
}


def es_reply(status: int, body: object, delay: float = 0.0) -> Reply:
    return Reply(status, json.dumps(body).encode(), dict(ES_HEADERS), delay)


def es_error(status: int, kind: str) -> Reply:
    cause = {"type": kind, "reason": f"{kind} happened"}
    return es_reply(status, {"error": {**cause, "root_cause": [cause]}, "status": status})


class FakeElasticsearch:
    """Keeps created docs by (index, id), like an index with ``create`` semantics.

    :param reject: ids whose create fails with a mapper_parsing_exception.
    """

    def __init__(self, reject: frozenset[str] = frozenset()) -> None:
        self.reject = reject
        self.stored: dict[tuple[str, str], dict] = {}
        self.templates: dict[str, dict] = {}

    def __call__(self, request: Recorded) -> Reply:
        path = request.path.split("?")[0]
        if request.method == "PUT" and path.startswith("/_index_template/"):
            self.templates[path.rsplit("/", 1)[1]] = request.json()
            return es_reply(200, {"acknowledged": True})
        if request.method in ("PUT", "POST") and path == "/_bulk":  # the 9.x client uses PUT
            return es_reply(200, self.bulk(request.body))
        return es_error(404, "unknown_endpoint")

    def bulk(self, body: bytes) -> dict:
        lines = [json.loads(line) for line in body.decode().splitlines() if line]
        items = []
        for action, doc in zip(lines[::2], lines[1::2], strict=True):
            meta = action["create"]
            key = (meta["_index"], meta["_id"])
            item = {"_index": meta["_index"], "_id": meta["_id"]}
            if meta["_id"] in self.reject:
                cause = {
                    "type": "mapper_parsing_exception",
                    "reason": "failed to parse [source.ip]",
                }
                item.update(status=400, error=cause)
            elif key in self.stored:
                cause = {"type": "version_conflict_engine_exception", "reason": "already exists"}
                item.update(status=409, error=cause)
            else:
                self.stored[key] = doc
                item.update(status=201, result="created", _version=1)
            items.append({"create": item})
        return {
            "took": 3,
            "errors": any(i["create"]["status"] >= 300 for i in items),
            "items": items,
        }


def sink(url: str, **options) -> ElasticsearchSink:
    options.setdefault("timeout", 2.0)
    return ElasticsearchSink("es", [url], "botwatch-alerts-test", **options)


def test_template_is_put_then_alerts_are_bulk_created_with_their_ids():
    fake = FakeElasticsearch()
    with LoopbackServer(default=fake) as server:
        results = sink(server.url).deliver(DOCS)
    assert [(r.alert_ids, r.ok, r.detail) for r in results] == [
        ((i,), True, "created (201)") for i in IDS
    ]
    put, bulk = server.requests
    assert (put.method, put.path) == ("PUT", "/_index_template/botwatch-alerts")
    assert put.json() == alerts_index_template("botwatch-alerts-test")
    assert put.json()["index_patterns"] == ["botwatch-alerts-test*"]
    assert (bulk.method, bulk.path) == ("PUT", "/_bulk?refresh=false")
    assert "x-ndjson" in bulk.headers["content-type"]
    lines = [json.loads(line) for line in bulk.body.decode().splitlines()]
    assert lines[0::2] == [{"create": {"_index": "botwatch-alerts-test", "_id": i}} for i in IDS]
    assert lines[1::2] == DOCS
    assert fake.stored[("botwatch-alerts-test", IDS[2])] == DOCS[2]  # hostile doc kept as is


def test_second_delivery_finds_the_alerts_already_there():
    fake = FakeElasticsearch()
    with LoopbackServer(default=fake) as server:
        es = sink(server.url)
        es.deliver(DOCS[:2])
        results = es.deliver(DOCS)
    assert [(r.ok, r.detail) for r in results] == [
        (True, "exists (409)"),
        (True, "exists (409)"),
        (True, "created (201)"),
    ]
    assert len(fake.stored) == 3


def test_one_rejected_item_fails_alone():
    fake = FakeElasticsearch(reject=frozenset({IDS[1]}))
    with LoopbackServer(default=fake) as server:
        results = sink(server.url, install_template=False).deliver(DOCS)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].alert_ids == (IDS[1],)
    assert results[1].detail == "HTTP 400 mapper_parsing_exception: failed to parse [source.ip]"
    assert [r.path.split("?")[0] for r in server.requests] == ["/_bulk"]  # no template PUT


def test_template_failure_still_tries_the_bulk_and_says_so():
    fake = FakeElasticsearch()
    with LoopbackServer([es_error(403, "security_exception")], default=fake) as server:
        results = sink(server.url).deliver(DOCS[:1])
    assert results[0].ok
    assert results[0].detail == (
        "created (201); template not put: AuthorizationException HTTP 403: security_exception"
    )
    assert len(server.requests) == 2


def test_retryable_5xx_everywhere_fails_every_alert_after_client_retries():
    with LoopbackServer(default=es_error(503, "unavailable_shards_exception")) as server:
        results = sink(server.url, retries=2).deliver(DOCS)
    assert len(server.requests) == 2 * 3  # template and bulk, each 1 + 2 retries
    assert [r.alert_ids for r in results] == [(i,) for i in IDS]
    assert all(not r.ok and r.attempts == 3 for r in results)
    assert results[0].detail.startswith("ApiError HTTP 503: unavailable_shards_exception")
    assert "template not put" in results[0].detail


def test_500_everywhere_fails_every_alert_without_retries():
    with LoopbackServer(default=es_error(500, "illegal_state_exception")) as server:
        results = sink(server.url, retries=2, install_template=False).deliver(DOCS[:2])
    assert len(server.requests) == 1  # 500 is not in retry_on_status (429, 502, 503, 504)
    assert [(r.ok, r.attempts) for r in results] == [(False, 1), (False, 1)]
    assert results[0].detail == "ApiError HTTP 500: illegal_state_exception"


def test_timeout_fails_every_alert():
    with LoopbackServer(default=es_reply(200, {}, delay=2.0)) as server:
        started = time.monotonic()
        results = sink(server.url, timeout=0.3, retries=1).deliver(DOCS[:2])
    assert time.monotonic() - started < 1.9  # 2 requests x 2 attempts x 0.3 s
    assert len(server.requests) == 4
    assert all(not r.ok and r.attempts == 2 for r in results)
    assert results[0].detail == (
        "ConnectionTimeout: Read timed out. (read timeout=0.3); template not put either"
    )


def test_connection_refused_fails_every_alert_without_leaking_credentials():
    results = sink(f"http://elastic:hunter2@127.0.0.1:{free_port()}", retries=1).deliver(DOCS)
    assert [r.alert_ids for r in results] == [(i,) for i in IDS]
    assert all(not r.ok and r.attempts == 2 for r in results)
    assert results[0].detail.startswith("ConnectionError: Failed to establish a new connection")
    assert "Connection refused" in results[0].detail and "hunter2" not in results[0].detail


def test_api_key_and_basic_auth_headers():
    fake = FakeElasticsearch()
    with LoopbackServer(default=fake) as server:
        sink(server.url, api_key="a2V5OnNlY3JldA==").deliver(DOCS[:1])
        sink(server.url, basic_auth=("elastic", "changeme")).deliver(DOCS[1:2])
    auth = [r.headers["authorization"] for r in server.requests]
    assert auth[:2] == ["ApiKey a2V5OnNlY3JldA=="] * 2
    assert auth[2:] == ["Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="] * 2


def test_non_elasticsearch_server_is_refused():
    with LoopbackServer(default=Reply(200, {"items": []})) as server:
        results = sink(server.url, install_template=False).deliver(DOCS[:1])
    assert not results[0].ok and "UnsupportedProductError" in results[0].detail


def test_no_io_for_no_docs_and_lazy_client():
    es = ElasticsearchSink("es", [f"http://127.0.0.1:{free_port()}"])
    assert es.deliver([]) == [] and es._client is None


def test_bad_client_settings_fail_the_delivery_instead_of_raising():
    es = ElasticsearchSink("es", ["http://127.0.0.1:9200"], ca_certs="/etc/ssl/private-ca.pem")
    results = es.deliver(DOCS)
    assert [(r.alert_ids, r.ok, r.attempts) for r in results] == [((i,), False, 0) for i in IDS]
    assert results[0].detail == "client setup: TLS options require scheme to be 'https'"


def test_template_maps_ecs_types():
    props = ALERTS_INDEX_TEMPLATE["template"]["mappings"]["properties"]
    assert ALERTS_INDEX_TEMPLATE["index_patterns"] == ["botwatch-alerts*"]
    assert ALERTS_INDEX_TEMPLATE["template"]["mappings"]["dynamic"] is False
    assert props["@timestamp"]["type"] == "date"
    assert props["source"]["properties"]["ip"]["type"] == "ip"
    assert props["user_agent"]["properties"]["original"]["type"] == "keyword"
    bw = props["botwatch"]["properties"]
    assert bw["interval"]["properties"]["start"]["type"] == "date"
    assert bw["top_features"]["type"] == "nested"
    assert {bw[f]["type"] for f in ("score", "threshold")} == {"float"}
    assert {bw[f]["type"] for f in ("entity", "use_case", "severity", "model_version")} == {
        "keyword"
    }
    assert bw["requests"]["type"] == "long"


@pytest.mark.parametrize("doc", DOCS, ids=["crawler", "scraper", "hostile"])
def test_every_fixture_field_is_mapped(doc):
    """With dynamic: false an unmapped field is silently unsearchable: map them all."""

    def leaves(value, path=""):
        if isinstance(value, dict):
            for key, sub in value.items():
                yield from leaves(sub, f"{path}.{key}" if path else key)
        else:
            yield path

    mappings = ALERTS_INDEX_TEMPLATE["template"]["mappings"]
    for path in leaves(doc):
        node = mappings
        for part in path.split("."):
            node = node["properties"][part]
            if node.get("type") == "nested":
                break
        assert "type" in node, path
