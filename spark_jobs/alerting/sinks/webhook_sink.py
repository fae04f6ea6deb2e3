"""Alerts POSTed as JSON to an HTTP endpoint: a SOAR, a chat-ops bot or a Slack incoming webhook.

Receivers are told enough to be idempotent themselves: ``Idempotency-Key`` is the alert id (or
the digest key), so a retry after a lost response, or a rerun of the interval, can be dropped.
With ``hmac_secret`` each request is signed; a receiver verifies it like this::

    ts = request.headers["X-Botwatch-Timestamp"]
    expected = "sha256=" + hmac.new(secret, ts.encode() + b"." + raw_body, "sha256").hexdigest()
    ok = hmac.compare_digest(expected, request.headers["X-Botwatch-Signature"])
    ok = ok and abs(time.time() - int(ts)) < 300   # refuse replays of old requests

Redirects are not followed: urllib would turn a redirected POST into a bodiless GET that
"succeeds". A Slack hook URL is a secret, so only scheme://host ever reaches a log or a detail.
Retries run through tenacity (``base.with_retries``) rather than urllib3's ``Retry``: each
attempt is a new request, signed with a fresh timestamp, and a receiver's Retry-After is
honoured only up to MAX_RETRY_AFTER.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import hmac
import http.client
import json
import logging
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata

from spark_jobs.alerting.sinks.base import (
    DeliveryResult,
    Permanent,
    Transient,
    alert_id,
    cap_detail,
    digest_key,
    header_safe,
    ids_header,
    short_error,
    unique_docs,
    with_retries,
)
from spark_jobs.alerting.sinks.render import slack_message
from spark_jobs.config.alerts import WEBHOOK_FORMATS
from spark_jobs.reporting.text import one_line

log = logging.getLogger(__name__)

#: Longest Retry-After honoured; a receiver asking for more gets this and the outbox does the rest.
MAX_RETRY_AFTER = 60.0
#: Failed alerts in a row after which the rest of a delivery is left to the next run: a dead
#: receiver would otherwise hold the task for (timeouts + backoff) x alerts.
BREAKER_AFTER = 3


def _user_agent() -> str:
    try:
        return f"botwatch/{metadata.version('botwatch')}"
    except metadata.PackageNotFoundError:
        return "botwatch/0.1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx surfaces as an HTTPError: a failure, not a silent GET


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta or HTTP date), clamped to [0, MAX_RETRY_AFTER]."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class _Retryable(Transient):
    """A failed request worth repeating; ``head`` says what failed (``HTTP 503``, ``timeout``),
    ``tail`` what the receiver or socket said, which the final detail puts after the count."""

    def __init__(self, head: str, tail: str = "", retry_after: float | None = None) -> None:
        super().__init__(head, retry_after)
        self.head = head
        self.tail = tail


class WebhookSink:
    """Deliver alerts by HTTP POST, one per alert or one digest, with retries and signing.

    :param name: sink name, unique per use case (the ledger keys on it).
    :param url: http(s) endpoint; treated as a secret beyond scheme://host.
    :param fmt: "json" posts the alert documents; "slack" posts Block Kit messages.
    :param digest: one request for all alerts of a delivery instead of one per alert.
    :param hmac_secret: when set, requests carry ``X-Botwatch-Timestamp`` and
        ``X-Botwatch-Signature`` (HMAC-SHA256 of ``b"<timestamp>." + body``).
    :param timeout: seconds for connecting and for each read.
    :param retries: further attempts after the first, on connection errors, timeouts, 5xx, 429.
    :param backoff: first retry delay in seconds, doubled per retry (a Retry-After wins).
    :param headers: extra request headers (e.g. a bearer token); ours take precedence.
    :param sleep: how tenacity waits between attempts; tests pass a recorder.
    """

    type = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        *,
        fmt: str = "json",
        digest: bool = False,
        hmac_secret: bytes | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 1.0,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"webhook sink {name!r}: url must be http(s)://host/...")
        if fmt not in WEBHOOK_FORMATS:
            raise ValueError(f"webhook sink {name!r}: fmt must be 'json' or 'slack', not {fmt!r}")
        self.name = name
        self.url = url
        self.fmt = fmt
        self.digest = digest
        self.hmac_secret = hmac_secret
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.headers = dict(headers or {})
        self.sleep = sleep
        self._origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        self._opener = urllib.request.build_opener(_NoRedirect())

    def __repr__(self) -> str:
        return f"WebhookSink(name={self.name!r}, url={self._origin!r}, fmt={self.fmt!r})"

    def deliver(self, docs: Sequence[dict]) -> list[DeliveryResult]:
        """POST the alerts; a result per request, covering every alert id exactly once."""
        docs = unique_docs(docs)
        if not docs:
            return []
        if self.digest:
            return [self._post(docs, self._body(docs))]
        results: list[DeliveryResult] = []
        for number, doc in enumerate(docs):
            tail = results[-BREAKER_AFTER:]
            if len(tail) == BREAKER_AFTER and not any(r.ok for r in tail):
                rest = tuple(alert_id(d) for d in docs[number:])
                detail = f"not attempted: the previous {BREAKER_AFTER} alerts failed"
                log.warning("webhook %s: %d alerts left for the next run", self.name, len(rest))
                return [*results, DeliveryResult(rest, False, 0, cap_detail(detail))]
            results.append(self._post([doc], self._body([doc])))
        return results

    def _body(self, docs: list[dict]) -> bytes:
        if self.fmt == "slack":
            payload: object = slack_message(docs, digest=self.digest)
        elif self.digest:
            cases = sorted({str((d.get("botwatch") or {}).get("use_case")) for d in docs})
            payload = {"use_case": ",".join(cases), "count": len(docs), "alerts": docs}
        else:
            payload = docs[0]
        return json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")

    def _request(self, body: bytes, ids: list[str]) -> urllib.request.Request:
        headers = {**self.headers}
        key = digest_key(ids) if self.digest else ids[0]
        headers.update(
            {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": _user_agent(),
                "Idempotency-Key": header_safe(key),
                "X-Botwatch-Alert-Ids": ids_header(ids),
            }
        )
        if self.hmac_secret is not None:
            stamp = str(int(time.time()))  # fresh per attempt: receivers refuse stale ones
            mac = hmac.new(self.hmac_secret, stamp.encode() + b"." + body, hashlib.sha256)
            headers["X-Botwatch-Timestamp"] = stamp
            headers["X-Botwatch-Signature"] = "sha256=" + mac.hexdigest()
        return urllib.request.Request(self.url, data=body, headers=headers, method="POST")

    def _redact(self, text: str) -> str:
        """Drop the URL's secret part from text that may echo it (exception messages)."""
        path = urllib.parse.urlsplit(self.url)
        for secret in (self.url, path.path + ("?" + path.query if path.query else "")):
            if len(secret) > 1:
                text = text.replace(secret, "…")
        return text

    def _post(self, docs: list[dict], body: bytes) -> DeliveryResult:
        """One logical delivery: up to 1 + retries requests, then a single result."""
        ids = [alert_id(d) for d in docs]
        outcome, attempts = with_retries(
            lambda: self._attempt(body, ids),
            retries=self.retries,
            backoff=self.backoff,
            sleep=self.sleep,
            on_retry=self._log_retry,
        )
        if isinstance(outcome, str):
            return DeliveryResult(tuple(ids), True, attempts, outcome)
        if isinstance(outcome, _Retryable):
            detail = f"{outcome.head} after {attempts} attempt{'s' if attempts > 1 else ''}"
            return self._failed(
                ids, attempts, f"{detail}: {outcome.tail}" if outcome.tail else detail
            )
        return self._failed(ids, attempts, str(outcome))

    def _attempt(self, body: bytes, ids: list[str]) -> str:
        """One request: the status line when the receiver took it, else raises _Retryable or
        Permanent. The request is rebuilt each time so the signature's timestamp is fresh."""
        try:
            with self._opener.open(self._request(body, ids), timeout=self.timeout) as resp:
                status = resp.status
                # The status is what counts: the receiver has the alert even if the
                # rest of its answer is slow or cut.
                with contextlib.suppress(OSError, http.client.HTTPException):
                    resp.read(65536)
            return f"HTTP {status}"
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc) from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise self._network_error(exc) from exc

    def _http_error(self, exc: urllib.error.HTTPError) -> Exception:
        """5xx and 429 are the receiver's trouble and worth a retry; other statuses (4xx, and
        3xx since redirects are not followed) will not change by asking again."""
        try:
            text = exc.read(4096).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            text = ""
        finally:
            exc.close()
        head, tail = f"HTTP {exc.code}", one_line(self._redact(text), 200)
        if not (exc.code == 429 or exc.code >= 500):
            return Permanent(f"{head}: {tail}" if tail else head)
        wait = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        return _Retryable(head, tail, wait)

    def _network_error(self, exc: BaseException) -> Exception:
        reason = getattr(exc, "reason", exc)
        reason = reason if isinstance(reason, BaseException) else exc
        text = self._redact(short_error(reason))
        if isinstance(reason, ssl.SSLCertVerificationError):
            return Permanent(text)  # retrying will not fix a certificate
        if isinstance(reason, TimeoutError):
            return _Retryable("timeout", text)
        return _Retryable(text)

    def _log_retry(self, attempt: int, error: Exception, delay: float) -> None:
        head = getattr(error, "head", error)
        log.warning(
            "webhook %s (%s): attempt %d failed (%s); retrying in %.1fs",
            self.name,
            self._origin,
            attempt,
            head,
            delay,
        )

    def _failed(self, ids: list[str], attempts: int, detail: str) -> DeliveryResult:
        detail = cap_detail(f"{detail} [{self._origin}]")
        log.warning("webhook %s: alerts %s not delivered: %s", self.name, ",".join(ids), detail)
        return DeliveryResult(tuple(ids), False, attempts, detail)
