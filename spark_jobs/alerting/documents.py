"""Alert records as ECS-style documents: the one shape the outbox, Elasticsearch, webhooks and
e-mails share, so an alert reads the same wherever it lands (Kibana, ElastAlert, Slack).

Field names follow ECS where one exists (``source.ip``, ``user_agent.original``, ``event.*``,
``rule.*``) and live under ``botwatch.*`` otherwise. The document is a pure function of the
record, with no wall-clock field, so a rerun writes byte-identical documents. Strings from logs
are capped here; each renderer escapes them for its own medium.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from spark_jobs.alerting.lifecycle import SEVERITY_NUMBER
from spark_jobs.reporting.text import cap

#: Longest log-derived strings kept in a document (a hostile client can send megabytes).
MAX_USER_AGENT = 1024
MAX_SAMPLE = 1024
MAX_ENTITY = 512


def _ip(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None


def to_document(record: dict[str, Any], rule_description: str = "") -> dict[str, Any]:
    """The ECS alert document of one raised alert record (see ``alert_records.to_records``)."""
    score = round(float(record["score"]), 3)
    doc: dict[str, Any] = {
        "@timestamp": record["interval_end"],
        "message": record["reason"],
        "event": {
            "kind": "alert",
            "module": "botwatch",
            "dataset": "botwatch.alert",
            "category": ["web"],
            "type": ["info"],
            "id": record["alert_id"],
            "start": record["interval_start"],
            "end": record["interval_end"],
            "severity": SEVERITY_NUMBER[record["severity"]],
            "risk_score": score,
        },
        "rule": {
            "name": record["use_case"],
            "description": cap(rule_description, 500),
            "ruleset": "botwatch",
        },
        "botwatch": {
            "alert_id": record["alert_id"],
            "use_case": record["use_case"],
            "entity": cap(record["entity"], MAX_ENTITY),
            "entity_key": record["entity_key"],
            "score": score,
            "threshold": record["threshold"],
            "severity": record["severity"],
            "model_version": record["model_version"],
            "model_kind": record["model_kind"],
            "requests": record["requests"],
            "sessions": record["sessions"],
            "interval": {"start": record["interval_start"], "end": record["interval_end"]},
            "session": {
                "id": cap(record["session"], MAX_ENTITY + 16),
                "start": record["session_start"],
                "end": record["session_end"],
            },
            "declared_crawler": record["declared_crawler"],
            "crawler_name": record["crawler_name"],
            "crawler_operator": record.get("crawler_operator"),
            "spoofed_crawler": record.get("spoofed_crawler"),
            "crawler_check": record.get("crawler_check"),
            "top_features": record["top_features"],
            "sample_requests": [cap(s, MAX_SAMPLE) for s in record["sample_requests"]],
            "reason": record["reason"],
        },
    }
    client = record.get("client")
    if client:
        source = {"address": cap(client, MAX_ENTITY)}
        if ip := _ip(client):
            source["ip"] = ip
        doc["source"] = source
    if record.get("user_agent"):
        doc["user_agent"] = {"original": cap(record["user_agent"], MAX_USER_AGENT)}
    return doc
