"""The ``alert:`` block of a use case: who is alerted, who is not (and why), and where alerts go.

Kept apart from ``usecase`` because sinks carry their own vocabulary. Secrets never live
in the YAML: a sink names an Airflow connection (``conn_id``) or an environment variable
(``*_env``), resolved only when the deliver step runs, so a config can be committed and a DAG
parsed on a machine that holds no secrets.
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import date
from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator, model_validator

from spark_jobs.config.base import Strict

#: What a webhook sink posts: the alert documents, or Slack Block Kit messages.
WebhookFormat = Literal["json", "slack"]
WEBHOOK_FORMATS: tuple[WebhookFormat, ...] = get_args(WebhookFormat)


class AllowlistEntry(Strict):
    """Traffic that is known and wanted (monitoring, partners, the office NAT).

    Its alerts are still computed and recorded as suppressed with this reason, so an allowlist
    that hides too much shows up in the report instead of silently eating alerts. Every given
    field must match (an IP range *and* a user agent pattern narrows the entry).
    """

    reason: str = Field(min_length=3, description="Why this traffic is fine; shown on suppression.")
    cidr: str | None = Field(None, description="IPv4/IPv6 address or network, e.g. 10.0.0.0/8.")
    user_agent: str | None = Field(
        None, description="Regular expression searched (case-insensitive) in the User-Agent."
    )
    entity: str | None = Field(None, description="Exact entity value (e.g. a session id).")
    verified_crawler: str | None = Field(
        None,
        description="An operator of data/verified_crawlers.json (google, bing, ...): matches its "
        "crawlers only when their address or host name checks out, never a spoofed one.",
    )
    until: date | None = Field(
        None, description="Last data day the entry applies to; later intervals alert again."
    )

    @field_validator("cidr")
    @classmethod
    def _network(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_network(value.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(f"not an IP address or network: {value!r}") from exc
        return value

    @field_validator("user_agent")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _matches_something(self) -> AllowlistEntry:
        given = (self.cidr, self.user_agent, self.entity, self.verified_crawler)
        if all(value is None for value in given):
            raise ValueError(
                "an allowlist entry needs cidr, user_agent, entity or verified_crawler"
            )
        return self

    @field_validator("verified_crawler")
    @classmethod
    def _operator(cls, value: str | None) -> str | None:
        if value is not None:
            from spark_jobs.features.crawler_check import shipped_operators

            known = [op.operator for op in shipped_operators()]
            if value not in known:
                raise ValueError(f"unknown crawler operator {value!r}; known: {', '.join(known)}")
        return value


class SeverityConfig(Strict):
    """Score cut-offs for the severity label; below ``high`` an alert is ``medium``."""

    high: float = Field(98.0, ge=0, le=100)
    critical: float = Field(99.5, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> SeverityConfig:
        if self.critical < self.high:
            raise ValueError("critical must be >= high")
        return self


class _SinkBase(Strict):
    name: str | None = Field(
        None,
        pattern=r"^[a-z][a-z0-9_-]{0,40}$",
        description="Unique per use case; names the delivery ledger. Default: the type.",
    )

    @property
    def sink_name(self) -> str:
        return self.name or self.type  # type: ignore[attr-defined]


class FileSinkConfig(_SinkBase):
    """Append-only JSONL file for tailing shippers (Filebeat, fluent-bit)."""

    type: Literal["file"] = "file"
    path: str = Field(
        "alerts.jsonl", description="JSONL file; relative paths are resolved inside the lake root."
    )

    def resolved_path(self, lake_root: str) -> str:
        """Relative paths live in the lake root; the file sink writes the local filesystem only."""
        if os.path.isabs(self.path):
            return self.path
        root = lake_root.removeprefix("file://").removeprefix("file:")
        if "://" in root:
            raise ValueError(f"file sink {self.path!r}: lake root {lake_root} is not a local path")
        return os.path.join(root, self.path)


class _Retrying(_SinkBase):
    timeout_seconds: float = Field(10.0, gt=0, le=300)
    retries: int = Field(3, ge=0, le=10, description="Extra attempts after a transient failure.")


class WebhookSinkConfig(_Retrying):
    """HTTP POST of JSON: generic (the alert document) or Slack incoming-webhook blocks."""

    type: Literal["webhook"] = "webhook"
    format: WebhookFormat = "json"
    url: str | None = Field(None, description="A URL that is no secret (an internal receiver).")
    url_env: str | None = Field(None, description="Environment variable holding the URL.")
    conn_id: str | None = Field(
        None,
        description="Airflow connection: host (full URL or host + schema/port) + password "
        "as HMAC secret if set.",
    )
    hmac_secret_env: str | None = Field(
        None, description="Environment variable with the HMAC-SHA256 signing secret."
    )
    digest: bool = Field(False, description="One message per run instead of one per alert.")
    backoff_seconds: float = Field(1.0, ge=0, le=60)
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers (no secrets).")

    @model_validator(mode="after")
    def _one_target(self) -> WebhookSinkConfig:
        given = [k for k in ("url", "url_env", "conn_id") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of url, url_env, conn_id (got {given or 'none'})")
        if self.url and not re.match(r"^https?://", self.url):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        return self


class ElasticsearchSinkConfig(_Retrying):
    """Bulk-index alerts (document id = alert id) for Kibana and ElastAlert."""

    type: Literal["elasticsearch"] = "elasticsearch"
    conn_id: str | None = Field(
        None, description="Airflow elasticsearch connection (host, port, schema, login/password)."
    )
    hosts: list[str] = Field(default_factory=list, description="Node URLs when no conn_id.")
    api_key_env: str | None = Field(None, description="Environment variable with an API key.")
    username: str | None = None
    password_env: str | None = Field(None, description="Environment variable with the password.")
    index: str = Field("botwatch-alerts", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    install_template: bool = Field(True, description="PUT the ECS index template first.")
    verify_certs: bool = True
    ca_certs: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ElasticsearchSinkConfig:
        if bool(self.conn_id) == bool(self.hosts):
            raise ValueError("give exactly one of conn_id or hosts")
        return self


class EmailSinkConfig(_Retrying):
    """E-mail through an Airflow SMTP connection (host, port, login, password)."""

    type: Literal["email"] = "email"
    conn_id: str = Field("smtp_default", description="Airflow SMTP connection.")
    to: list[str] = Field(min_length=1)
    from_email: str | None = Field(
        None, description="Sender; default the connection's extra from_email."
    )
    subject_prefix: str = Field("[botwatch]", max_length=40)
    digest: bool = Field(True, description="One mail per run (default) or one per alert.")
    retries: int = Field(2, ge=0, le=10)
    timeout_seconds: float = Field(30.0, gt=0, le=300)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not re.fullmatch(r"[^@\s]+@[^@\s]+", a)]
        if bad:
            raise ValueError(f"not e-mail addresses: {bad}")
        return value


SinkConfig = Annotated[
    FileSinkConfig | WebhookSinkConfig | ElasticsearchSinkConfig | EmailSinkConfig,
    Field(discriminator="type"),
]


class ReportConfig(Strict):
    enabled: bool = Field(True, description="Write an HTML report per run into the lake.")
    trend_runs: int = Field(30, ge=1, le=1000, description="Earlier runs shown in the trend.")


class AlertConfig(Strict):
    min_requests: int = Field(
        5,
        ge=1,
        description="Entities with fewer requests in the interval are scored but never alerted.",
    )
    max_alerts: int = Field(100, ge=1, description="Cap per interval, highest scores first.")
    spoofed_crawlers: Literal["alert", "explain"] = Field(
        "alert",
        description="alert: a session whose user agent claims a verifiable crawler from an address "
        "or host its operator does not publish is an alert whatever its score (with min_requests, "
        "the allowlist and the realert window as usual); explain: only said in the alerts it raises.",
    )
    top_features: int = Field(3, ge=1, le=20)
    sample_requests: int = Field(5, ge=0, le=50)
    realert_minutes: float = Field(
        1440,
        ge=0,
        description="After an alert, the same entity is suppressed for this long (data time). "
        "An entity is never alerted twice for one interval, even by a newer model.",
    )
    retry_days: float = Field(
        7, gt=0, description="Undelivered alerts are retried by later runs for this long."
    )
    false_positive_days: int = Field(
        30,
        ge=0,
        description="An analyst's false-positive verdict (botwatch feedback) without an until "
        "day suppresses later alerts of that entity for this many days of data after the "
        "alerted interval (0: only verdicts with until suppress).",
    )
    severity: SeverityConfig = Field(default_factory=SeverityConfig)
    allowlist: list[AllowlistEntry] = Field(default_factory=list)
    report: ReportConfig = Field(default_factory=ReportConfig)
    sinks: list[SinkConfig] = Field(default_factory=lambda: [FileSinkConfig()])

    @field_validator("sinks")
    @classmethod
    def _unique_names(cls, value: list) -> list:
        names = [sink.sink_name for sink in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"sink names must be unique, repeated: {repeated} (set name:)")
        return value
