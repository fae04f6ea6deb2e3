"""Sinks built from config plus secrets, which come only from connections or the environment.

A connection is looked up by a resolver: in Airflow, ``BaseHook.get_connection`` (any secrets
backend: the metadata DB, Vault, ``AIRFLOW_CONN_*``); outside Airflow (``botwatch run deliver``),
the ``AIRFLOW_CONN_<ID>`` environment variable in Airflow's own JSON or URI form. Field meanings
follow the Airflow providers (the SMTP connection's ``disable_ssl``/``disable_tls``/``from_email``
extras, the Elasticsearch connection's host/port/schema/login/password).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from spark_jobs.config.alerts import (
    ElasticsearchSinkConfig,
    EmailSinkConfig,
    FileSinkConfig,
    WebhookSinkConfig,
)
from spark_jobs.errors import SinkSetupError


@dataclass(frozen=True)
class ConnInfo:
    conn_type: str | None = None
    host: str | None = None
    port: int | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Resolver = Callable[[str], ConnInfo]


def parse_uri(uri: str) -> ConnInfo:
    """Airflow's connection URI: ``type://login:password@host:port/schema?extra=..``."""
    parts = urlsplit(uri)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    extra = json.loads(query.pop("__extra__")) if "__extra__" in query else query
    return ConnInfo(
        conn_type=parts.scheme.replace("-", "_") or None,
        host=unquote(parts.hostname or "") or None,
        port=parts.port,
        schema=unquote(parts.path.lstrip("/")) or None,
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        extra=extra,
    )


def env_connection(conn_id: str) -> ConnInfo:
    """The connection from ``AIRFLOW_CONN_<CONN_ID>`` (JSON or URI), as Airflow reads it."""
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    value = os.environ.get(name)
    if not value:
        raise SinkSetupError(f"connection {conn_id!r} not found (no {name} in the environment)")
    if value.lstrip().startswith("{"):
        data = json.loads(value)
        extra = data.get("extra") or {}
        return ConnInfo(
            conn_type=data.get("conn_type"),
            host=data.get("host"),
            port=int(data["port"]) if data.get("port") else None,
            schema=data.get("schema"),
            login=data.get("login"),
            password=data.get("password"),
            extra=json.loads(extra) if isinstance(extra, str) else dict(extra),
        )
    return parse_uri(value)


def _env(name: str | None, what: str) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise SinkSetupError(f"{what}: environment variable {name} is not set")
    return value


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def webhook_url(cfg: WebhookSinkConfig, resolve: Resolver) -> tuple[str, bytes | None]:
    """The URL and HMAC secret of a webhook sink (an HTTP connection's password is its secret)."""
    secret = _env(cfg.hmac_secret_env, f"sink {cfg.sink_name} hmac_secret_env")
    if cfg.url:
        url = cfg.url
    elif cfg.url_env:
        url = _env(cfg.url_env, f"sink {cfg.sink_name} url_env") or ""
    else:
        conn = resolve(cfg.conn_id or "")
        host = (conn.host or "").rstrip("/")
        if not host:
            raise SinkSetupError(f"sink {cfg.sink_name}: connection {cfg.conn_id} has no host")
        if "://" not in host:
            port = f":{conn.port}" if conn.port else ""
            host = f"{conn.schema or 'https'}://{host}{port}"
        endpoint = str(conn.extra.get("endpoint") or "").lstrip("/")
        url = f"{host}/{endpoint}" if endpoint else host
        secret = secret or conn.password
    return url, secret.encode("utf-8") if secret else None


def build_sink(sink_cfg: Any, lake_root: str, resolve: Resolver) -> Any:
    """One sink object (see ``spark_jobs.alerting.sinks``) from its config and resolved secrets.

    A setting the sink refuses (say, a connection whose host is no http(s) URL) becomes a
    SinkSetupError naming the sink, like a missing secret: that sink fails, the others go on.
    """
    try:
        return _build_sink(sink_cfg, lake_root, resolve)
    except ValueError as exc:
        raise SinkSetupError(f"sink {sink_cfg.sink_name}: {exc}") from None


def _build_sink(sink_cfg: Any, lake_root: str, resolve: Resolver) -> Any:
    name = sink_cfg.sink_name
    if isinstance(sink_cfg, FileSinkConfig):
        from spark_jobs.alerting.sinks.file_sink import FileSink

        try:
            return FileSink(name, sink_cfg.resolved_path(lake_root))
        except ValueError as exc:
            raise SinkSetupError(str(exc)) from None
    if isinstance(sink_cfg, WebhookSinkConfig):
        from spark_jobs.alerting.sinks.webhook_sink import WebhookSink

        url, secret = webhook_url(sink_cfg, resolve)
        return WebhookSink(
            name,
            url,
            fmt=sink_cfg.format,
            digest=sink_cfg.digest,
            hmac_secret=secret,
            timeout=sink_cfg.timeout_seconds,
            retries=sink_cfg.retries,
            backoff=sink_cfg.backoff_seconds,
            headers=sink_cfg.headers,
        )
    if isinstance(sink_cfg, ElasticsearchSinkConfig):
        return _es_sink(sink_cfg, resolve)
    if isinstance(sink_cfg, EmailSinkConfig):
        return _email_sink(sink_cfg, resolve)
    raise SinkSetupError(f"sink {name}: unknown type {sink_cfg.type!r}")


def _es_sink(cfg: ElasticsearchSinkConfig, resolve: Resolver) -> Any:
    from spark_jobs.alerting.sinks.es_sink import ElasticsearchSink

    api_key = _env(cfg.api_key_env, f"sink {cfg.sink_name} api_key_env")
    password = _env(cfg.password_env, f"sink {cfg.sink_name} password_env")
    basic = (cfg.username, password) if cfg.username and password else None
    hosts = list(cfg.hosts)
    if cfg.conn_id:
        conn = resolve(cfg.conn_id)
        if not conn.host:
            raise SinkSetupError(f"sink {cfg.sink_name}: connection {cfg.conn_id} has no host")
        host = conn.host if "://" in conn.host else f"{conn.schema or 'http'}://{conn.host}"
        hosts = [f"{host.rstrip('/')}:{conn.port}" if conn.port else host]
        api_key = api_key or conn.extra.get("api_key")
        if conn.login and conn.password:
            basic = (conn.login, conn.password)
    return ElasticsearchSink(
        cfg.sink_name,
        hosts,
        cfg.index,
        api_key=api_key,
        basic_auth=basic,
        verify_certs=cfg.verify_certs,
        ca_certs=cfg.ca_certs,
        timeout=cfg.timeout_seconds,
        retries=cfg.retries,
        install_template=cfg.install_template,
    )


def _email_sink(cfg: EmailSinkConfig, resolve: Resolver) -> Any:
    from spark_jobs.alerting.sinks.email_sink import EmailSink

    conn = resolve(cfg.conn_id)
    if not conn.host:
        raise SinkSetupError(f"sink {cfg.sink_name}: connection {cfg.conn_id} has no host")
    ssl = not _truthy(conn.extra.get("disable_ssl", False))
    starttls = not ssl and not _truthy(conn.extra.get("disable_tls", False))
    sender = cfg.from_email or conn.extra.get("from_email") or conn.login
    if not sender:
        raise SinkSetupError(
            f"sink {cfg.sink_name}: no sender (set from_email, or the connection's extra "
            "from_email)"
        )
    return EmailSink(
        cfg.sink_name,
        conn.host,
        conn.port or (465 if ssl else 25),
        sender,
        list(cfg.to),
        login=conn.login,
        password=conn.password,
        starttls=starttls,
        ssl=ssl,
        timeout=float(conn.extra.get("timeout", cfg.timeout_seconds)),
        digest=cfg.digest,
        subject_prefix=cfg.subject_prefix,
        retries=cfg.retries,
    )
