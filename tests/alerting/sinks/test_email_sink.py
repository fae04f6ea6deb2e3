"""EmailSink against a real SMTP server (aiosmtpd) on loopback: what arrives, and how failures
are retried or not."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from spark_jobs.alerting.sinks.base import digest_key
from spark_jobs.alerting.sinks.email_sink import EmailSink
from tests.support.loopback_http import free_port
from tests.support.paths import alert_docs

DOCS = alert_docs()
IDS = [d["event"]["id"] for d in DOCS]
RECIPIENTS = ["soc@example.org", "oncall@example.org"]


@dataclass
class Mailbox:
    """An aiosmtpd handler: keeps every accepted mail; answers ``replies`` first (e.g. 451)."""

    replies: list[str] = field(default_factory=list)
    received: list[tuple[str, list[str], email.message.EmailMessage]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    data_commands: int = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.data_commands += 1
        if self.replies:
            return self.replies.pop(0)
        self.raw.append(envelope.original_content)
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


def check_password(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"botwatch", b"correct horse")
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@pytest.fixture
def smtp():
    """Start a server; yields a function (mailbox, **controller options) -> port."""
    controllers = []

    def start(mailbox: Mailbox, **options) -> int:
        port = free_port()
        controller = Controller(
            mailbox, hostname="127.0.0.1", port=port, server_hostname="mx.test", **options
        )
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def sink(port: int, **options) -> EmailSink:
    options.setdefault("sleep", Sleeps())
    options.setdefault("timeout", 5.0)
    return EmailSink("mail", "127.0.0.1", port, "botwatch@example.org", RECIPIENTS, **options)


def test_digest_mail_has_both_parts_recipients_and_a_stable_message_id(smtp):
    box = Mailbox()
    results = sink(smtp(box)).deliver(DOCS)
    assert [(r.alert_ids, r.ok, r.attempts, r.detail) for r in results] == [
        (tuple(IDS), True, 1, "sent to 2 recipients")
    ]
    [(sender, rcpts, msg)] = box.received
    assert sender == "botwatch@example.org" and rcpts == RECIPIENTS
    assert msg["To"] == ", ".join(RECIPIENTS) and msg["From"] == "botwatch@example.org"
    assert msg["Message-ID"] == f"<{digest_key(IDS)}@botwatch>"
    assert msg["X-Botwatch-Alert-Ids"].replace(" ", "").split(",") == IDS
    assert msg["Subject"].startswith("[botwatch] 3 alerts, behavioural_bots (worst CRITICAL)")
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "robots_txt = 1 (median 0, p100)" in plain and "208.91.156.11" in plain
    assert "<table" in html and "208.91.156.11" in html


def test_one_mail_per_alert_without_digest(smtp):
    box = Mailbox()
    results = sink(smtp(box), digest=False).deliver(DOCS)
    assert [r.alert_ids for r in results] == [(i,) for i in IDS] and all(r.ok for r in results)
    assert [m["Message-ID"] for _, _, m in box.received] == [f"<{i}@botwatch>" for i in IDS]
    assert box.received[0][2]["Subject"] == (
        "[botwatch] HIGH behavioural_bots: 144.76.95.39 (score 99.6)"
    )


def test_hostile_content_creates_no_header_and_no_markup(smtp):
    box = Mailbox()
    assert sink(smtp(box), digest=False).deliver([DOCS[2]])[0].ok
    [(_, rcpts, msg)] = box.received
    assert rcpts == RECIPIENTS  # nobody added by "\r\nBcc: evil@example.net"
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    header_lines = box.raw[0].split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert not any(line.lower().startswith((b"bcc", b"x-injected")) for line in header_lines)
    subject = str(msg["Subject"])
    assert "\n" not in subject and "\r" not in subject
    assert subject.startswith("[botwatch] MEDIUM behavioural_bots: 1.2.3.4⏎Bcc: evil@example.net")
    html = msg.get_body(("html",)).get_content()
    assert "<script" not in html.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    plain = msg.get_body(("plain",)).get_content()
    assert not any(line.startswith(("Bcc:", "X-Injected")) for line in plain.splitlines())


AUTH_WITHOUT_TLS = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@AUTH_WITHOUT_TLS
def test_auth_with_the_right_password(smtp):
    box = Mailbox()
    port = smtp(box, authenticator=check_password, auth_require_tls=False, auth_required=True)
    [result] = sink(port, login="botwatch", password="correct horse").deliver(DOCS[:1])
    assert result.ok and len(box.received) == 1


@AUTH_WITHOUT_TLS
def test_auth_with_a_wrong_password_fails_without_retry(smtp):
    box = Mailbox()
    sleeps = Sleeps()
    port = smtp(box, authenticator=check_password, auth_require_tls=False, auth_required=True)
    [result] = sink(port, login="botwatch", password="wrong", sleep=sleeps).deliver(DOCS[:1])
    assert (result.ok, result.attempts, sleeps) == (False, 1, [])
    assert result.detail.startswith("SMTP 535") and "wrong" not in result.detail
    assert box.received == []


def test_transient_4xx_is_retried_with_backoff(smtp):
    box = Mailbox(replies=["451 4.3.0 try again later", "421 4.7.0 busy"])
    sleeps = Sleeps()
    [result] = sink(smtp(box), retries=2, backoff=0.5, sleep=sleeps).deliver(DOCS[:1])
    assert (result.ok, result.attempts, sleeps) == (True, 3, [0.5, 1.0])
    assert len(box.received) == 1


def test_permanent_5xx_is_not_retried(smtp):
    box = Mailbox(replies=["554 5.7.1 rejected as spam"] * 3)
    sleeps = Sleeps()
    [result] = sink(smtp(box), sleep=sleeps).deliver(DOCS[:1])
    assert (result.ok, result.attempts, sleeps) == (False, 1, [])
    assert result.detail.startswith("SMTP 554: 5.7.1 rejected as spam")
    assert box.data_commands == 1


def test_starttls_refused_by_the_server_is_permanent(smtp):
    box = Mailbox()
    [result] = sink(smtp(box), starttls=True).deliver(DOCS[:1])
    assert (result.ok, result.attempts) == (False, 1)
    assert result.detail.startswith("SMTPNotSupportedError: STARTTLS extension not supported")
    assert box.received == []  # never sent in the clear


def test_connection_refused_is_retried_then_reported():
    sleeps = Sleeps()
    results = sink(free_port(), digest=False, retries=2, sleep=sleeps).deliver(DOCS[:2])
    assert [r.alert_ids for r in results] == [(IDS[0],), (IDS[1],)]
    assert all(not r.ok and r.attempts == 3 for r in results)
    assert "ConnectionRefusedError" in results[0].detail
    assert sleeps == [1.0, 2.0, 1.0, 2.0]


def test_no_mail_for_no_alerts_and_config_errors_raise():
    assert sink(free_port()).deliver([]) == []
    with pytest.raises(ValueError):
        EmailSink("mail", "127.0.0.1", 25, "a@b", [])
    with pytest.raises(ValueError):
        EmailSink("mail", "127.0.0.1", 25, "a@b", ["c@d"], ssl=True, starttls=True)


def test_the_same_alerts_make_the_same_message_id():
    one, two = (sink(25).build_message(DOCS[::step]) for step in (1, -1))
    assert one["Message-ID"] == two["Message-ID"] == f"<{digest_key(IDS)}@botwatch>"
    single = sink(25).build_message(DOCS[:1])
    assert single.as_string().count(f"Message-ID: <{IDS[0]}@botwatch>\n") == 1  # not folded
