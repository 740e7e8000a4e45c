"""Delivery to every channel kind (signed webhook, Slack-style, mail) through the outbound-request
guard, against local receivers and a real SMTP server, with the delivery log in memory."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from clients.outbound import OutboundPolicy
from processors.config import MailConfig
from processors.notifications import SIGNATURE_HEADER, TIMESTAMP_HEADER
from processors.delivery import Deliverer
from schemas.alerts import Alert, Channel, Delivery

ALERT = Alert(id="a1", rule="sanctions", article_id="x", title="EU sanctions", language="en",
              matched_terms=["sanction"], snippet="EU <mark>sanctions</mark>")


class Receiver:
    """A loopback HTTP server that records what it is sent; `redirect_to` makes it answer 307."""

    def __init__(self, status: int = 200, redirect_to: str | None = None) -> None:
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                receiver.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                receiver.headers.append(dict(self.headers))
                self.send_response(307 if redirect_to else status)
                if redirect_to:
                    self.send_header("Location", redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.port = self.http.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@dataclass
class Log:
    """The delivery log in memory: each record as last written, by id."""

    records: dict[str, Delivery] = field(default_factory=dict)
    writes: list[Delivery] = field(default_factory=list)

    async def claim(self, delivery: Delivery) -> bool:
        if delivery.id in self.records:
            return False
        await self.update(delivery)
        return True

    async def update(self, delivery: Delivery) -> None:
        self.records[delivery.id] = delivery
        self.writes.append(delivery)


def deliver(policy: OutboundPolicy, url: str, attempts: int = 2, kind: str = "webhook",
            secret: str | None = None, deliveries: Log | None = None, alert: Alert = ALERT,
            mail: MailConfig | None = None) -> bool:
    async def run() -> bool:
        sender = Deliverer(policy, deliveries or Log(), secret, mail, attempts=attempts, first_delay_s=0.01)
        try:
            return await sender.deliver(Channel(kind=kind, url=url), alert)  # type: ignore[arg-type]
        finally:
            await sender.close()
    return asyncio.run(run())


def test_an_allow_listed_receiver_gets_the_alert(receiver: Receiver) -> None:
    assert deliver(OutboundPolicy(allow=(f"127.0.0.1:{receiver.port}",)), receiver.url)
    assert [Alert.model_validate_json(body).id for body in receiver.bodies] == ["a1"]


def test_a_signed_webhook_verifies_with_the_secret_and_a_slack_channel_gets_a_message(receiver: Receiver) -> None:
    policy = OutboundPolicy(allow=(f"127.0.0.1:{receiver.port}",))
    assert deliver(policy, receiver.url, secret="s3cret") and deliver(policy, receiver.url, kind="slack", secret="s3cret")
    (signed, chat), (signed_headers, chat_headers) = receiver.bodies, receiver.headers
    # What a receiver does: recompute the HMAC over "timestamp." and the raw body.
    timestamp = signed_headers[TIMESTAMP_HEADER]
    expected = hmac.new(b"s3cret", f"{timestamp}.".encode() + signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signed_headers[SIGNATURE_HEADER], f"sha256={expected}")
    assert abs(time.time() - int(timestamp)) < 60 and Alert.model_validate_json(signed).id == "a1"
    assert "*sanctions*" in json.loads(chat)["text"] and SIGNATURE_HEADER not in chat_headers


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "0x7f000001", "0", "169.254.169.254"])
def test_internal_addresses_are_never_reached(receiver: Receiver, host: str) -> None:
    assert not deliver(OutboundPolicy(), receiver.url.replace("127.0.0.1", host))
    assert receiver.bodies == []


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    bouncer = Receiver(redirect_to=receiver.url)
    try:
        assert not deliver(OutboundPolicy(allow=(f"127.0.0.1:{bouncer.port}",)), bouncer.url, attempts=1)
        assert len(bouncer.bodies) == 1 and receiver.bodies == []
    finally:
        bouncer.close()


def test_a_failing_receiver_is_retried_then_given_up_and_the_log_says_why() -> None:
    failing, deliveries = Receiver(status=500), Log()
    try:
        assert not deliver(OutboundPolicy(allow=(f"127.0.0.1:{failing.port}",)), failing.url, attempts=3,
                           deliveries=deliveries)
        assert len(failing.bodies) == 3
    finally:
        failing.close()
    assert [(d.status, d.attempts, d.reason) for d in deliveries.writes] == [
        ("sending", 0, None), ("retrying", 1, "HTTP 500"), ("retrying", 2, "HTTP 500"), ("failed", 3, "HTTP 500")]


def test_a_channel_gets_an_alert_at_most_once_and_the_log_has_its_latency(receiver: Receiver) -> None:
    policy, deliveries = OutboundPolicy(allow=(f"127.0.0.1:{receiver.port}",)), Log()
    assert deliver(policy, receiver.url, deliveries=deliveries)
    assert not deliver(policy, receiver.url, deliveries=deliveries)  # a replay, or a restarted worker
    assert len(receiver.bodies) == 1
    (sent,) = deliveries.records.values()
    assert (sent.status, sent.attempts, sent.alert_id, sent.channel) == ("sent", 1, "a1", "webhook")
    assert sent.latency_ms is not None and sent.latency_ms >= 0 and sent.target == receiver.url


def test_a_refused_address_is_logged_as_failed_with_the_guards_reason(receiver: Receiver) -> None:
    deliveries = Log()
    assert not deliver(OutboundPolicy(), receiver.url, deliveries=deliveries)
    (failed,) = deliveries.records.values()
    assert failed.status == "failed" and failed.reason.startswith("refused: ")  # type: ignore[union-attr]


class Mailbox:
    """A real SMTP server (aiosmtpd) on a loopback port, keeping what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        mailbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802
                mailbox.messages.append(message_from_bytes(envelope.content, policy=default))
                return "250 OK"

        # A free port picked first: the controller checks its server by connecting to the port given.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    server = Mailbox()
    yield server
    server.close()


def mail(policy: OutboundPolicy, mailbox: Mailbox, deliveries: Log, address: str = "desk@example.org") -> bool:
    config = MailConfig(host="127.0.0.1", port=mailbox.port, starttls=False, sender="alerts@example.org")
    return deliver(policy, f"mailto:{address}", kind="email", deliveries=deliveries, alert=MAILED, mail=config)


MAILED = ALERT.model_copy(update={"url": "https://news.example.org/eu-sanctions", "source": "Herald"})


def test_a_mail_channel_sends_a_text_and_an_html_part_through_a_real_smtp_server(mailbox: Mailbox) -> None:
    deliveries = Log()
    assert mail(OutboundPolicy(allow=(f"127.0.0.1:{mailbox.port}",)), mailbox, deliveries)
    (message,) = mailbox.messages
    assert message["To"] == "desk@example.org" and message["From"] == "alerts@example.org"
    assert message["Subject"] == "[newsstream] sanctions: EU sanctions"
    text, page = (message.get_body(preferencelist=(kind,)).get_content() for kind in ("plain", "html"))
    assert "EU sanctions" in text and "https://news.example.org/eu-sanctions" in text and "<mark>" not in text
    assert "<mark>sanctions</mark>" in page and 'href="https://news.example.org/eu-sanctions"' in page
    (sent,) = deliveries.records.values()
    assert (sent.status, sent.channel, sent.target) == ("sent", "email", "desk@example.org")


def test_a_mail_server_at_an_internal_address_is_refused_and_none_configured_says_so(mailbox: Mailbox) -> None:
    deliveries = Log()
    assert not mail(OutboundPolicy(), mailbox, deliveries)
    assert mailbox.messages == [] and next(iter(deliveries.records.values())).status == "failed"

    assert not deliver(OutboundPolicy(), "mailto:desk@example.org", attempts=1, kind="email", alert=MAILED)
