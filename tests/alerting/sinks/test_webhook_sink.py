"""WebhookSink against a real HTTP server on loopback: bodies, headers, signing, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from spark_jobs.alerting.sinks.base import DeliveryResult, digest_key
from spark_jobs.alerting.sinks.webhook_sink import WebhookSink
from tests.support.loopback_http import LoopbackServer, Reply, free_port
from tests.support.paths import alert_docs

DOCS = alert_docs()
IDS = [d["event"]["id"] for d in DOCS]
SECRET = b"s3cret-shared-with-the-receiver"


class Sleeps(list):
    """Records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def sink(url: str, **options) -> WebhookSink:
    options.setdefault("sleep", Sleeps())
    options.setdefault("timeout", 2.0)
    return WebhookSink("hook", url, **options)


def verify(secret: bytes, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does with the signature headers (as in the module docstring)."""
    stamp = headers["x-botwatch-timestamp"]
    expected = "sha256=" + hmac.new(secret, stamp.encode() + b"." + body, "sha256").hexdigest()
    return hmac.compare_digest(expected, headers["x-botwatch-signature"])


def test_one_post_per_alert_with_doc_body_ids_and_valid_signature():
    with LoopbackServer() as server:
        results = sink(server.url + "/alerts?token=abc", hmac_secret=SECRET).deliver(DOCS[:2])
    assert results == [DeliveryResult((i,), True, 1, "HTTP 200") for i in IDS[:2]]
    assert [r.json() for r in server.requests] == DOCS[:2]
    first = server.requests[0]
    assert (first.method, first.path) == ("POST", "/alerts?token=abc")
    assert first.headers["content-type"].startswith("application/json")
    assert first.headers["idempotency-key"] == IDS[0]
    assert first.headers["x-botwatch-alert-ids"] == IDS[0]
    assert first.headers["user-agent"].startswith("botwatch/")
    assert abs(int(first.headers["x-botwatch-timestamp"]) - time.time()) < 60
    assert verify(SECRET, first.headers, first.body)
    assert not verify(b"another secret", first.headers, first.body)
    assert not verify(SECRET, first.headers, first.body + b" ")


def test_no_signature_headers_without_secret_and_extra_headers_are_sent():
    with LoopbackServer() as server:
        sink(server.url, headers={"Authorization": "Bearer t0k"}).deliver(DOCS[:1])
    headers = server.requests[0].headers
    assert headers["authorization"] == "Bearer t0k"
    assert "x-botwatch-signature" not in headers and "x-botwatch-timestamp" not in headers


def test_5xx_is_retried_with_exponential_backoff_until_success():
    sleeps = Sleeps()
    with LoopbackServer([Reply(500), Reply(503)], default=Reply(200)) as server:
        [result] = sink(server.url, retries=3, backoff=0.5, sleep=sleeps).deliver(DOCS[:1])
    assert (result.ok, result.attempts, result.detail) == (True, 3, "HTTP 200")
    assert sleeps == [0.5, 1.0]
    assert len(server.requests) == 3
    assert {r.body for r in server.requests} == {server.requests[0].body}  # same alert each time


def test_always_5xx_fails_after_all_retries_without_leaking_the_url_path():
    sleeps = Sleeps()
    with LoopbackServer(default=Reply(500, "database on fire")) as server:
        url = server.url + "/services/T000/B000/XXXXsecretXXXX"
        [result] = sink(url, retries=2, backoff=1.0, sleep=sleeps).deliver(DOCS[:1])
    assert not result.ok and result.attempts == 3 and len(server.requests) == 3
    assert result.detail.startswith("HTTP 500 after 3 attempts: database on fire")
    assert server.url in result.detail and "XXXXsecretXXXX" not in result.detail
    assert sleeps == [1.0, 2.0]


def test_429_waits_for_retry_after_capped_at_60_seconds():
    sleeps = Sleeps()
    replies = [Reply(429, headers={"Retry-After": "7"}), Reply(429, headers={"Retry-After": "900"})]
    with LoopbackServer(replies) as server:
        [result] = sink(server.url, sleep=sleeps).deliver(DOCS[:1])
    assert result.ok and result.attempts == 3
    assert sleeps == [7.0, 60.0]


def test_4xx_is_not_retried_and_says_status_and_body():
    sleeps = Sleeps()
    with LoopbackServer(default=Reply(404, "no such hook\n" + "x" * 500)) as server:
        [result] = sink(server.url, sleep=sleeps).deliver(DOCS[:1])
    assert (result.ok, result.attempts, sleeps) == (False, 1, [])
    assert len(server.requests) == 1
    assert result.detail.startswith("HTTP 404: no such hook⏎xxx")
    assert len(result.detail) < 300


def test_redirect_is_a_failure_not_a_silent_get():
    with LoopbackServer(default=Reply(302, headers={"Location": "/elsewhere"})) as server:
        [result] = sink(server.url).deliver(DOCS[:1])
    assert not result.ok and result.detail.startswith("HTTP 302")
    assert [r.method for r in server.requests] == ["POST"]


def test_timeout_is_retried_then_reported():
    sleeps = Sleeps()
    with LoopbackServer(default=Reply(200, delay=2.0)) as server:
        started = time.monotonic()
        [result] = sink(server.url, timeout=0.3, retries=1, sleep=sleeps).deliver(DOCS[:1])
    assert time.monotonic() - started < 1.9
    assert not result.ok and result.attempts == 2 and sleeps == [1.0]
    assert result.detail.startswith("timeout after 2 attempts")


def test_connection_refused_is_a_result_not_an_exception():
    sleeps = Sleeps()
    url = f"http://127.0.0.1:{free_port()}/hook"
    results = sink(url, retries=2, sleep=sleeps).deliver(DOCS[:2])
    assert [r.alert_ids for r in results] == [(IDS[0],), (IDS[1],)]
    assert all(not r.ok and r.attempts == 3 for r in results)
    assert "ConnectionRefusedError" in results[0].detail
    assert sleeps == [1.0, 2.0, 1.0, 2.0]


def test_a_dead_receiver_is_given_up_on_after_three_failed_alerts():
    docs = [{**DOCS[0], "event": {**DOCS[0]["event"], "id": f"id-{n}"}} for n in range(5)]
    url = f"http://127.0.0.1:{free_port()}/hook"

    results = sink(url, retries=1, sleep=Sleeps()).deliver(docs)

    assert [(r.alert_ids, r.attempts) for r in results] == [
        (("id-0",), 2),
        (("id-1",), 2),
        (("id-2",), 2),
        (("id-3", "id-4"), 0),
    ]
    assert not any(r.ok for r in results)
    assert results[-1].detail.startswith("not attempted: the previous 3 alerts failed")


def test_digest_is_one_request_with_all_ids_and_the_digest_key():
    with LoopbackServer() as server:
        results = sink(server.url, digest=True, hmac_secret=SECRET).deliver(DOCS)
    assert results == [DeliveryResult(tuple(IDS), True, 1, "HTTP 200")]
    [request] = server.requests
    assert request.json() == {"use_case": "behavioural_bots", "count": 3, "alerts": DOCS}
    assert request.headers["idempotency-key"] == digest_key(IDS) == digest_key(IDS[::-1])
    assert request.headers["x-botwatch-alert-ids"].split(",") == IDS
    assert verify(SECRET, request.headers, request.body)


def test_empty_delivery_makes_no_request_and_duplicates_get_one_result():
    with LoopbackServer() as server:
        assert sink(server.url).deliver([]) == []
        assert server.requests == []
        results = sink(server.url).deliver([DOCS[0], DOCS[0]])
    assert [r.alert_ids for r in results] == [(IDS[0],)] and len(server.requests) == 1


def _text_of(payload: dict) -> list[str]:
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [element["text"] for element in block.get("elements", [])]
    return texts


@pytest.mark.parametrize("digest", [False, True])
def test_slack_payload_neutralises_hostile_log_content(digest):
    hostile = DOCS[2]
    with LoopbackServer() as server:
        [result] = sink(server.url, fmt="slack", digest=digest).deliver([hostile])
    assert result.ok
    payload = json.loads(server.requests[0].body)  # valid JSON
    assert set(payload) == {"text", "blocks"}
    texts = _text_of(payload)
    joined = "\n".join(texts)
    assert "&lt;!channel&gt;" in joined and "&lt;script&gt;" in joined
    for raw in ("<!channel>", "<!here>", "<!everyone>", "<@U024BE7LH>", "<http", "<script>"):
        assert raw not in joined
    assert "\r" not in joined and "Bcc: evil@example.net" in joined
    assert digest or "X-Injected" in joined  # the full card shows the user agent
    # No line of the message starts with what followed a newline inside the log content.
    lines = joined.split("\n")
    assert not any(line.startswith(("X-Injected", "fake line", "second line")) for line in lines)
    # Backticks from the logs cannot close a code span or a ``` block.
    for text in texts:
        assert "```" not in text.replace("```\n", "").replace("\n```", "")


def test_slack_single_alert_card_has_the_facts():
    with LoopbackServer() as server:
        sink(server.url, fmt="slack").deliver(DOCS[:1])
    payload = server.requests[0].json()
    joined = "\n".join(_text_of(payload))
    assert "HIGH" in joined and "behavioural_bots" in joined and "`144.76.95.39`" in joined
    assert "robots_txt = 1 (median 0, p100)" in joined
    assert "GET /robots.txt 200" in joined
    assert "unsupervised-ensemble-20150520T000000Z-7eefad122d" in joined


def test_config_errors_raise_at_construction():
    with pytest.raises(ValueError):
        WebhookSink("hook", "file:///etc/passwd")
    with pytest.raises(ValueError):
        WebhookSink("hook", "https://example.org/", fmt="xml")
    assert "secret" not in repr(WebhookSink("hook", "https://hooks.example/T/B/secret"))


def test_signature_is_hex_hmac_sha256_over_timestamp_dot_body():
    with LoopbackServer() as server:
        sink(server.url, hmac_secret=SECRET).deliver(DOCS[:1])
    request = server.requests[0]
    stamp = request.headers["x-botwatch-timestamp"]
    digest = hmac.new(SECRET, f"{stamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-botwatch-signature"] == f"sha256={digest}"
