"""Alerts indexed into Elasticsearch, where Kibana users search and dashboard them.

Each alert is written with the bulk ``create`` op and ``_id`` = alert id, so Elasticsearch itself
refuses a second copy: a rerun, a retried task or two racing workers give a 409 for the alerts
already there, which counts as delivered. The index template is put before each bulk so the
first write creates an index with ECS types (``source.ip`` as ip, dates as dates) rather than
whatever dynamic mapping guesses from the first document.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Sequence
from importlib import resources
from typing import Any

from spark_jobs.alerting.sinks.base import DeliveryResult, alert_id, cap_detail, unique_docs
from spark_jobs.reporting.text import cap

log = logging.getLogger(__name__)

#: Alerts per bulk request; a transport failure fails only its own chunk.
BULK_CHUNK = 500
RETRY_ON_STATUS = (429, 502, 503, 504)

#: The composable index template for the default index, as Elasticsearch takes it: a data
#: file, so it is reviewed (and can be put by hand with curl) as the JSON it is.
_TEMPLATE_FILE = "es_index_template.json"


@functools.cache
def _template_text() -> str:
    return resources.files(__package__).joinpath(_TEMPLATE_FILE).read_text(encoding="utf-8")


def alerts_index_template(index: str = "botwatch-alerts", priority: int = 200) -> dict:
    """A composable index template body for ``index*`` with the alert document's ECS types.

    ``dynamic: false`` keeps fields nobody mapped in ``_source`` without letting a stray value
    pick their type; ``source.ip`` ignores a malformed value rather than losing the alert.
    Each call returns a fresh dict, so a caller may change it without changing the next one.
    """
    template = json.loads(_template_text())
    template["index_patterns"] = [f"{index}*"]
    template["priority"] = priority
    return template


#: The template for the default index; ElasticsearchSink puts the one for its own index.
ALERTS_INDEX_TEMPLATE = alerts_index_template()


_POOL_PREFIX = re.compile(r"HTTP\w*\(host=[^)]*\): |<[^>]* at 0x[0-9a-f]+>: ")


def _error_text(exc: BaseException) -> str:
    """Short and secret-free: the error type and status, or the socket-level cause of a
    transport error (never the node URL, which may hold credentials)."""
    from elasticsearch import ApiError

    if isinstance(exc, ApiError):
        body = exc.body if isinstance(exc.body, dict) else {}
        err = body.get("error")
        kind = err.get("type") if isinstance(err, dict) else err
        return f"{type(exc).__name__} HTTP {exc.meta.status}" + (f": {kind}" if kind else "")
    cause = exc.__cause__ or next(iter(getattr(exc, "errors", ()) or ()), None)
    text = _POOL_PREFIX.sub("", str(cause or exc))
    if "@" in text:
        text = "(details withheld: they name the node URL)"
    return f"{type(exc).__name__}: {cap(' '.join(text.split()), 160)}"


class ElasticsearchSink:
    """Deliver alerts to an Elasticsearch index with bulk ``create`` and ``_id`` = alert id.

    :param name: sink name, unique per use case (the ledger keys on it).
    :param hosts: node URLs, e.g. ``["https://es.example:9200"]``.
    :param index: index (or alias) written to; the template covers ``index*``.
    :param api_key: an encoded API key, sent as ``Authorization: ApiKey ...``.
    :param basic_auth: (user, password), when no API key.
    :param verify_certs: check the server's TLS certificate.
    :param ca_certs: CA bundle path for a private CA.
    :param timeout: seconds per request.
    :param retries: client retries on connection errors, timeouts and 429/502/503/504.
    :param install_template: put the index template before each delivery.
    :param template_name: the composable index template's name.
    :param client: a ready ``elasticsearch.Elasticsearch`` (tests, or shared with a hook);
        otherwise one is built on first delivery.
    """

    type = "elasticsearch"

    def __init__(
        self,
        name: str,
        hosts: list[str],
        index: str = "botwatch-alerts",
        *,
        api_key: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        verify_certs: bool = True,
        ca_certs: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        install_template: bool = True,
        template_name: str = "botwatch-alerts",
        client: Any = None,
    ) -> None:
        self.name = name
        self.hosts = list(hosts)
        self.index = index
        self.api_key = api_key
        self.basic_auth = basic_auth
        self.verify_certs = verify_certs
        self.ca_certs = ca_certs
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.install_template = install_template
        self.template_name = template_name
        self.template = alerts_index_template(index)
        self._client = client
        self._owns_client = client is None

    def __repr__(self) -> str:
        return f"ElasticsearchSink(name={self.name!r}, index={self.index!r})"

    @property
    def client(self) -> Any:
        """The Elasticsearch client, built on first use (no import or I/O before delivery)."""
        if self._client is None:
            from elasticsearch import Elasticsearch

            options: dict[str, Any] = {"verify_certs": self.verify_certs}
            if self.ca_certs:
                options["ca_certs"] = self.ca_certs
            if self.api_key:
                options["api_key"] = self.api_key
            elif self.basic_auth:
                options["basic_auth"] = tuple(self.basic_auth)
            self._client = Elasticsearch(
                hosts=self.hosts,
                request_timeout=self.timeout,
                max_retries=self.retries,
                retry_on_timeout=True,
                retry_on_status=RETRY_ON_STATUS,
                **options,
            )
        return self._client

    def close(self) -> None:
        """Close the connection pool of a client this sink built."""
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None

    def deliver(self, docs: Sequence[dict]) -> list[DeliveryResult]:
        """Put the template, then bulk-create the alerts; one result per alert."""
        docs = unique_docs(docs)
        if not docs:
            return []
        try:
            _ = self.client  # built here, so a bad setting fails this delivery, not the run
        except (ValueError, TypeError) as exc:  # e.g. ca_certs with an http:// host
            detail = cap_detail(f"client setup: {exc}")
            return [DeliveryResult((alert_id(d),), False, 0, detail) for d in docs]
        note = self._put_template() if self.install_template else ""
        results = []
        for start in range(0, len(docs), BULK_CHUNK):
            results += self._bulk(docs[start : start + BULK_CHUNK], note)
        return results

    def _put_template(self) -> str:
        """Put the index template; on failure a note for the details, since the bulk may still
        work (an existing index keeps its mapping) and the template is retried next time."""
        from elasticsearch import ApiError, TransportError

        try:
            self.client.indices.put_index_template(name=self.template_name, body=self.template)
        except (ApiError, TransportError) as exc:
            log.warning("es sink %s: index template not put: %s", self.name, _error_text(exc))
            return f"; template not put: {_error_text(exc)}"
        return ""

    def _bulk(self, docs: list[dict], note: str) -> list[DeliveryResult]:
        from elasticsearch import ApiError, TransportError

        ids = [alert_id(d) for d in docs]
        operations: list[dict] = []
        for key, doc in zip(ids, docs, strict=True):
            operations += [{"create": {"_index": self.index, "_id": key}}, doc]
        try:
            response = self.client.bulk(operations=operations, refresh=False)
        except (ApiError, TransportError) as exc:
            retried = isinstance(exc, TransportError) or exc.meta.status in RETRY_ON_STATUS
            if isinstance(exc, TransportError) and getattr(exc, "errors", None) is not None:
                attempts = 1 + len(exc.errors)
            else:
                attempts = 1 + self.retries if retried else 1
            text = _error_text(exc)
            if note == f"; template not put: {text}":
                note = "; template not put either"
            detail = cap_detail(text + note)
            log.warning("es sink %s: bulk of %d failed: %s", self.name, len(ids), detail)
            return [DeliveryResult((key,), False, attempts, detail) for key in ids]
        body = response.body if isinstance(response.body, dict) else {}
        return self._item_results(ids, body.get("items") or [], note)

    def _item_results(self, ids: list[str], items: list[dict], note: str) -> list[DeliveryResult]:
        """A result per alert from the bulk items, matched by ``_id`` (unique in the request,
        since docs are deduplicated); an alert without an item did not get in."""
        by_id = {}
        for item in items:
            info = next(iter(item.values()), {}) if isinstance(item, dict) else {}
            by_id.setdefault(str(info.get("_id")), info)
        results = []
        for key in ids:
            info = by_id.get(key)
            if info is None:
                results.append(DeliveryResult((key,), False, 1, "no bulk item for this alert"))
                continue
            status = int(info.get("status") or 0)
            error = info.get("error") if isinstance(info.get("error"), dict) else {}
            if 200 <= status < 300:
                results.append(
                    DeliveryResult((key,), True, 1, cap_detail(f"created ({status}){note}"))
                )
            elif status == 409:
                results.append(DeliveryResult((key,), True, 1, cap_detail(f"exists (409){note}")))
            else:
                reason = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
                detail = cap_detail(f"HTTP {status} {reason}{note}")
                results.append(DeliveryResult((key,), False, 1, detail))
        return results
