"""What every sink promises its caller, so the outbox can treat them alike.

A sink answers for each alert it was given, always: the outbox records the answer in its ledger
and retries only what is not ``ok``. That is why ``deliver`` turns receiver and network failures
into results instead of raising, and why every id comes back in exactly one result.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

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
    text = " ".join(str(exc).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def cap_detail(detail: str) -> str:
    """Keep a ledger detail to one line of at most DETAIL_LIMIT characters."""
    detail = " ".join(detail.split())
    return detail if len(detail) <= DETAIL_LIMIT else detail[: DETAIL_LIMIT - 1] + "…"


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
