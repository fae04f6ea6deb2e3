"""Where alerts go: one class per receiver behind the small ``Sink`` interface of ``base``.

``file_sink`` (append-only JSONL), ``webhook_sink`` (JSON or Slack), ``es_sink`` (Elasticsearch)
and ``email_sink`` (SMTP); ``render`` turns alert documents into Slack blocks, mail text and
HTML. Pure Python, no Spark or Airflow: the outbox calls ``Sink.deliver`` and records each
``DeliveryResult`` in its ledger. Modules import their clients (elasticsearch) lazily.
"""
