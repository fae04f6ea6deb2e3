"""Alerts mailed to people: one digest per delivery by default, or one mail per alert.

The ``Message-ID`` is derived from the alert id (or the digest key), so a mail re-sent after a
lost reply, or by a rerun of the interval, carries the same id and MTAs or mail clients that
deduplicate by Message-ID drop the repeat. The subject and every header are built from one-line
text: a CR/LF in a user agent or entity never starts a header of its own.
"""

from __future__ import annotations

import email.policy
import logging
import smtplib
import ssl as _ssl
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate

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
from spark_jobs.alerting.sinks.render import html_body, plain_text, subject
from spark_jobs.reporting.text import one_line

log = logging.getLogger(__name__)


#: Lines up to RFC 5322's hard limit, so a 64-hex Message-ID is not folded onto a second line
#: (exact-match deduplicators would then see a leading space).
_POLICY = email.policy.default.clone(max_line_length=998)


def _smtp_reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"SMTP {code}: {one_line(text, 200)}"


def _classify(exc: BaseException) -> Exception:
    """Transient (retry) or permanent (give up), with a short ledger detail.

    Connection trouble, timeouts and 4xx replies are transient; 5xx replies, a bad certificate
    and a missing STARTTLS or AUTH are permanent.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        text = "all recipients refused: " + ", ".join(
            f"{one_line(rcpt, 80)} ({code})" for rcpt, (code, _) in exc.recipients.items()
        )
        return (Transient if codes and all(400 <= c < 500 for c in codes) else Permanent)(text)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = _smtp_reply(exc.smtp_code, exc.smtp_error)
        return (Transient if 400 <= exc.smtp_code < 500 else Permanent)(text)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return Transient(short_error(exc))
    if isinstance(exc, _ssl.SSLCertVerificationError | smtplib.SMTPException):
        return Permanent(short_error(exc))  # bad certificate, no STARTTLS or AUTH offered
    if isinstance(exc, TimeoutError):
        return Transient("timeout: " + short_error(exc))
    return Transient(short_error(exc))


class EmailSink:
    """Deliver alerts by SMTP as multipart/alternative mail (plain text and HTML).

    :param name: sink name, unique per use case (the ledger keys on it).
    :param host: SMTP server (a relay or smarthost).
    :param port: its port: 25/587 plain or STARTTLS, 465 for implicit TLS.
    :param sender: envelope sender and From address.
    :param recipients: envelope recipients, also listed in To.
    :param login: SMTP AUTH user; AUTH is skipped without it.
    :param password: SMTP AUTH password.
    :param starttls: upgrade the connection with STARTTLS before AUTH.
    :param ssl: connect with implicit TLS (SMTPS); exclusive with ``starttls``.
    :param timeout: seconds for the connection and each reply.
    :param digest: one mail for all alerts of a delivery (True) or one mail per alert.
    :param subject_prefix: put in front of every subject, for mail filters.
    :param retries: further attempts after the first, on connection errors, disconnects and
        4xx (transient) replies; 5xx replies are permanent and not retried.
    :param backoff: first retry delay in seconds, doubled per retry.
    :param sleep: how tenacity waits between attempts; tests pass a recorder.
    """

    type = "email"

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        *,
        login: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        ssl: bool = False,
        timeout: float = 30.0,
        digest: bool = True,
        subject_prefix: str = "[botwatch]",
        retries: int = 2,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not recipients:
            raise ValueError(f"email sink {name!r}: no recipients")
        if ssl and starttls:
            raise ValueError(f"email sink {name!r}: use either ssl or starttls, not both")
        if login and password is None:
            raise ValueError(f"email sink {name!r}: login given without a password")
        self.name = name
        self.host = host
        self.port = int(port)
        self.sender = sender
        self.recipients = list(recipients)
        self.login = login
        self.password = password
        self.starttls = starttls
        self.ssl = ssl
        self.timeout = timeout
        self.digest = digest
        self.subject_prefix = subject_prefix
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"EmailSink(name={self.name!r}, host={self.host!r}, port={self.port})"

    def deliver(self, docs: Sequence[dict]) -> list[DeliveryResult]:
        """Mail the alerts: one result per mail, covering every alert id exactly once."""
        docs = unique_docs(docs)
        if not docs:
            return []
        batches = [docs] if self.digest else [[doc] for doc in docs]
        return [self._deliver_one(batch) for batch in batches]

    def build_message(self, docs: Sequence[dict]) -> EmailMessage:
        """The mail for these alerts; its Message-ID is the alert id, or the digest key for
        several, so the same alerts always make the same Message-ID."""
        ids = [alert_id(d) for d in docs]
        key = ids[0] if len(ids) == 1 else digest_key(ids)
        msg = EmailMessage(policy=_POLICY)
        msg["Subject"] = subject(docs, self.subject_prefix)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = f"<{header_safe(key)}@botwatch>"
        msg["X-Botwatch-Alert-Ids"] = ids_header(ids, sep=", ")
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
        msg.set_content(plain_text(docs))
        msg.add_alternative(html_body(docs), subtype="html")
        return msg

    def _deliver_one(self, docs: list[dict]) -> DeliveryResult:
        ids = tuple(alert_id(d) for d in docs)
        msg = self.build_message(docs)
        outcome, attempts = with_retries(
            lambda: self._send(msg),
            retries=self.retries,
            backoff=self.backoff,
            sleep=self.sleep,
            on_retry=self._log_retry,
        )
        if isinstance(outcome, str):
            return DeliveryResult(ids, True, attempts, outcome)
        if isinstance(outcome, Transient):
            return self._failed(ids, attempts, f"{outcome} (after {attempts} attempts)")
        return self._failed(ids, attempts, str(outcome))

    def _log_retry(self, attempt: int, error: Exception, delay: float) -> None:
        log.warning(
            "email %s: attempt %d failed (%s); retrying in %.1fs", self.name, attempt, error, delay
        )

    def _send(self, msg: EmailMessage) -> str:
        """One SMTP session; raises Transient or Permanent, or says who got the mail."""
        refused: dict | None = None
        try:
            context = _ssl.create_default_context()
            if self.ssl:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.starttls:
                    smtp.starttls(context=context)
                if self.login:
                    smtp.login(self.login, self.password or "")
                refused = smtp.send_message(msg, from_addr=self.sender, to_addrs=self.recipients)
        except (smtplib.SMTPException, OSError) as exc:
            if refused is None:
                raise _classify(exc) from exc
            # The mail was accepted and only the goodbye failed: a retry would send it twice.
            log.info("email %s: QUIT failed after sending: %s", self.name, short_error(exc))
        text = ", ".join(f"{one_line(r, 80)} ({c})" for r, (c, _) in (refused or {}).items())
        detail = f"sent to {len(self.recipients) - len(refused or {})} recipients"
        return cap_detail(detail + (f"; refused: {text}" if text else ""))

    def _failed(self, ids: tuple[str, ...], attempts: int, detail: str) -> DeliveryResult:
        detail = cap_detail(f"{detail} [{self.host}:{self.port}]")
        log.warning("email %s: alerts %s not delivered: %s", self.name, ",".join(ids), detail)
        return DeliveryResult(ids, False, attempts, detail)
