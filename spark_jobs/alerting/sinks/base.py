"""What every sink promises its caller, so the outbox can treat them alike.

A sink answers for each alert it was given, always: the outbox records the answer in its ledger
and retries only what is not ``ok``. That is why ``deliver`` turns receiver and network failures
into results instead of raising, and why every id comes back in exactly one result.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from spark_jobs.reporting.text import cap, squash

#: Longest ``detail`` a sink writes: the ledger keeps it per alert and per attempt.
DETAIL_LIMIT = 300
#: Longest ``X-Botwatch-Alert-Ids`` value; a big digest lists the first ids and a count.
IDS_HEADER_LIMIT = 2000
_UNSAFE_HEADER_CHARS = re.compile(r"[^A-Za-z0-9._:@-]")


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one delivery attempt, for the alerts it carried.

    ``ok`` is True once the receiver holds the alerts, including when it already had them (an
    Elasticsearch 409 on ``create``): a repeat is success, since ids are stable across reruns.
    ``attempts`` counts requests made, retries included. ``detail`` is short, for the ledger, and
    never holds a secret (webhook paths, passwords).
    """

    alert_ids: tuple[str, ...]
    ok: bool
    attempts: int
    detail: str


@runtime_checkable
class Sink(Protocol):
    """A receiver of alerts: a webhook, an Elasticsearch index, a mailbox.

    ``name`` is unique per use case (the ledger keys on it); ``type`` is "webhook",
    "elasticsearch" or "email". ``deliver`` returns [] for no docs without any I/O, never raises
    for receiver or network failures, and covers every input alert id in exactly one result.
    """

    name: str
    type: str

    def deliver(self, docs: Sequence[dict]) -> list[DeliveryResult]: ...


def alert_id(doc: Mapping[str, Any]) -> str:
    """The alert's stable id: ``event.id`` (ECS), else ``botwatch.alert_id``.

    Raises ValueError for a document without one (TypeError for a non-mapping): such a doc
    cannot be delivered idempotently, and that is a bug upstream, not a delivery failure.
    """
    if not isinstance(doc, Mapping):
        raise TypeError(f"alert document must be a mapping, not {type(doc).__name__}")
    event, botwatch = doc.get("event"), doc.get("botwatch")
    value = (event.get("id") if isinstance(event, Mapping) else None) or (
        botwatch.get("alert_id") if isinstance(botwatch, Mapping) else None
    )
    if not isinstance(value, str) or not value:
        raise ValueError("alert document has neither event.id nor botwatch.alert_id")
    return value


def digest_key(ids: Iterable[str]) -> str:
    """A deterministic idempotency key for a digest: the same alerts give the same key, in any
    order, so a receiver can drop a digest it has already seen."""
    joined = ",".join(sorted(ids))
    return "digest-" + hashlib.sha256(joined.encode("utf-8")).hexdigest()[:32]


def unique_docs(docs: Sequence[dict]) -> list[dict]:
    """Docs with repeated alert ids dropped (first kept), so each id gets exactly one result."""
    seen: set[str] = set()
    out = []
    for doc in docs:
        key = alert_id(doc)
        if key not in seen:
            seen.add(key)
            out.append(doc)
    return out


def short_error(exc: BaseException, limit: int = 200) -> str:
    """``TypeName: message`` on one line, cut short: enough to triage from the ledger."""
    text = cap(squash(str(exc)), limit)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def cap_detail(detail: str) -> str:
    """Keep a ledger detail to one line of at most DETAIL_LIMIT characters."""
    return cap(squash(detail), DETAIL_LIMIT)


def header_safe(value: str) -> str:
    """An id fit for a header value: anything but ``[A-Za-z0-9._:@-]`` becomes "_"."""
    return _UNSAFE_HEADER_CHARS.sub("_", value)


def ids_header(ids: Sequence[str], sep: str = ",") -> str:
    """Ids for ``X-Botwatch-Alert-Ids``, joined by ``sep``; a huge digest ends in ``;+N more``
    instead of growing past what proxies and MTAs accept in one header."""
    out: list[str] = []
    used = 0
    for i, value in enumerate(ids):
        value = header_safe(value)
        if used + len(value) + len(sep) > IDS_HEADER_LIMIT:
            return sep.join(out) + f";+{len(ids) - i} more"
        out.append(value)
        used += len(value) + len(sep)
    return sep.join(out)


class Transient(Exception):
    """An attempt failed in a way the next one may not (timeout, 5xx, 429, SMTP 4xx): retried.

    ``retry_after`` is the receiver's own wait (a Retry-After header); it beats the backoff.
    """

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Permanent(Exception):
    """An attempt failed in a way no retry fixes (4xx, auth, bad certificate): given up at once."""


def _backoff_unless_told(backoff: float) -> Callable[[RetryCallState], float]:
    exponential = wait_exponential(multiplier=backoff, exp_base=2)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        told = getattr(exc, "retry_after", None)
        return told if told is not None else exponential(state)

    return wait


def with_retries(
    attempt: Callable[[], str],
    *,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None],
    on_retry: Callable[[int, Exception, float], None],
) -> tuple[str | Transient | Permanent, int]:
    """Run ``attempt`` until it returns, raises Permanent, or has failed ``1 + retries`` times.

    Returns what the last attempt gave (its detail, or the exception to report) and the number
    of attempts: sinks turn both into a DeliveryResult instead of raising. Waits double from
    ``backoff`` (or follow ``retry_after``); ``on_retry(attempt, error, seconds)`` runs before
    each wait so the sink can log it.
    """
    retrying = Retrying(
        stop=stop_after_attempt(1 + max(0, retries)),
        wait=_backoff_unless_told(backoff),
        retry=retry_if_exception_type(Transient),
        sleep=sleep,
        before_sleep=lambda s: on_retry(s.attempt_number, s.outcome.exception(), s.upcoming_sleep),
        reraise=True,
    )
    try:
        result: str | Transient | Permanent = retrying(attempt)
    except (Transient, Permanent) as exc:
        result = exc
    return result, int(retrying.statistics.get("attempt_number", 1))
