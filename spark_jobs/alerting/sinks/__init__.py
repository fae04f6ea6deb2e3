"""Where alerts go: webhooks (JSON or Slack), Elasticsearch and e-mail.

Pure Python, no Spark or Airflow: the outbox calls ``Sink.deliver`` and records each
``DeliveryResult`` in its ledger. Modules import their clients (elasticsearch) lazily.
"""

from __future__ import annotations

from spark_jobs.alerting.sinks.base import DeliveryResult, Sink, alert_id, digest_key
from spark_jobs.alerting.sinks.email_sink import EmailSink
from spark_jobs.alerting.sinks.es_sink import (
    ALERTS_INDEX_TEMPLATE,
    ElasticsearchSink,
    alerts_index_template,
)
from spark_jobs.alerting.sinks.render import (
    escape_slack,
    html_body,
    plain_text,
    slack_message,
    subject,
)
from spark_jobs.alerting.sinks.webhook_sink import WebhookSink
from spark_jobs.reporting.text import cap, one_line

__all__ = [
    "ALERTS_INDEX_TEMPLATE",
    "DeliveryResult",
    "ElasticsearchSink",
    "EmailSink",
    "Sink",
    "WebhookSink",
    "alert_id",
    "alerts_index_template",
    "cap",
    "digest_key",
    "escape_slack",
    "html_body",
    "one_line",
    "plain_text",
    "slack_message",
    "subject",
]
