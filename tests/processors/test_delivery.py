"""Delivery to every channel kind (signed webhook, Slack-style, mail) through the outbound-request
guard, against local receivers and a real SMTP server, with the delivery log in memory; throttled
rules and digests with the real delivery log in Elasticsearch and a clock the test sets."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timezone
from email.policy import default
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from clients.elasticsearch import make_async_client
from clients.outbound import OutboundPolicy
from processors.config import MailConfig
from processors.notifications import SIGNATURE_HEADER, TIMESTAMP_HEADER
from processors.delivery import Deliverer
from processors.worker import ElasticsearchDeliveries
from newsstream.measure.mailbox import Mailbox
from schemas.alerts import Alert, Channel, Delivery, Digest, Notification, Rule

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
    assert message["Subject"] == "[newsstream] sanctions: EU sanctions" and message["X-Newsstream-Alert"] == "a1"
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


# Throttling and digests: the worker's delivery log on the real Elasticsearch, the time set here.


@pytest.fixture
def delivery_indices(stack, scratch_indices):  # noqa: ANN001
    return scratch_indices("alerts", "alert_deliveries", "alert_notifications")


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def matched(number: int, at: datetime) -> Alert:
    return ALERT.model_copy(update={"id": f"alert-{number}", "title": f"EU sanctions, part {number}",
                                    "matched_at": at, "url": f"https://news.example.org/{number}"})


class Workers:
    """Deliverers sharing one delivery log in Elasticsearch, as the workers of a deployment do."""

    def __init__(self, settings, es_client, names: dict[str, str], clock: Clock, policy: OutboundPolicy,  # noqa: ANN001
                 mail: MailConfig | None = None) -> None:
        self.settings, self.es_client, self.names, self.clock, self.policy, self.mail = (
            settings, es_client, names, clock, policy, mail)

    def run(self, work, workers: int = 1):  # noqa: ANN001, ANN201 - work(deliverers) -> coroutine
        async def run():  # noqa: ANN202
            es = make_async_client(self.settings.elasticsearch)
            log = ElasticsearchDeliveries(es, self.names["alert_deliveries"], self.names["alert_notifications"],
                                          self.names["alerts"])
            deliverers = [Deliverer(self.policy, log, mail=self.mail, attempts=2, first_delay_s=0.01, clock=self.clock)
                          for _ in range(workers)]
            try:
                return await work(*deliverers)
            finally:
                for deliverer in deliverers:
                    await deliverer.close()
                await es.close()
        return asyncio.run(run())

    def store(self, alert: Alert) -> Alert:
        self.es_client.index(index=self.names["alerts"], id=alert.id, document=alert.model_dump(mode="json"),
                             refresh=True)
        return alert

    def deliveries(self) -> dict[str, Delivery]:
        self.es_client.indices.refresh(index=self.names["alert_deliveries"])
        hits = self.es_client.search(index=self.names["alert_deliveries"], size=100)["hits"]["hits"]
        return {hit["_source"]["alert_id"]: Delivery.model_validate(hit["_source"]) for hit in hits}

    def notifications(self) -> list[Notification]:
        self.es_client.indices.refresh(index=self.names["alert_notifications"])
        hits = self.es_client.search(index=self.names["alert_notifications"], size=100)["hits"]["hits"]
        return [Notification.model_validate(hit["_source"]) for hit in hits]


@pytest.mark.integration
def test_a_throttled_rule_sends_its_limit_per_hour_and_lists_the_rest_in_the_next_message(
        stack, es_client, delivery_indices, receiver: Receiver) -> None:  # noqa: ANN001
    rule = Rule(name="sanctions", query="sanctions", webhook=receiver.url, throttle=2)
    clock = Clock(datetime(2026, 12, 3, 10, 5, tzinfo=timezone.utc))
    workers = Workers(stack, es_client, delivery_indices, clock, OutboundPolicy(allow=(f"127.0.0.1:{receiver.port}",)))
    alerts = [workers.store(matched(n, datetime(2026, 12, 3, 10, 5 + n, tzinfo=timezone.utc))) for n in range(4)]

    async def match_four(deliverer: Deliverer) -> None:
        for alert in alerts:
            clock.now = alert.matched_at
            await deliverer.hold(rule, rule.channels[0], alert)
        assert await deliverer.tick({rule.name: rule}.get) == 0  # the hour is used up
    workers.run(match_four)
    # The first two went out one by one, as an alert; the other two wait.
    assert [Alert.model_validate_json(body).id for body in receiver.bodies] == ["alert-0", "alert-1"]
    assert {a: d.status for a, d in workers.deliveries().items()} == {
        "alert-0": "sent", "alert-1": "sent", "alert-2": "held", "alert-3": "held"}

    clock.now = datetime(2026, 12, 3, 11, 0, 10, tzinfo=timezone.utc)
    assert workers.run(lambda deliverer: deliverer.tick({rule.name: rule}.get)) == 1
    bundle = json.loads(receiver.bodies[-1])
    assert [alert["id"] for alert in bundle["alerts"]] == ["alert-3", "alert-2"]  # newest first
    assert bundle["notification"]["kind"] == "throttled" and bundle["heading"].startswith("2 matches")
    delivered = workers.deliveries()
    assert {d.status for d in delivered.values()} == {"sent"}
    assert delivered["alert-2"].notification == delivered["alert-3"].notification == bundle["notification"]["id"]
    assert workers.run(lambda deliverer: deliverer.tick({rule.name: rule}.get)) == 0 and len(receiver.bodies) == 3


@pytest.mark.integration
def test_a_daily_digest_mails_once_at_its_local_time_what_was_matched_before_it(
        stack, es_client, delivery_indices, mailbox: Mailbox) -> None:  # noqa: ANN001
    rule = Rule(name="sanctions", query="sanctions", email=["desk@example.org"],
                digest=Digest(every="day", at="08:00", tz="Europe/Paris"))
    mail_config = MailConfig(host="127.0.0.1", port=mailbox.port, starttls=False, sender="alerts@example.org")
    clock = Clock(datetime(2026, 12, 3, 9, tzinfo=timezone.utc))
    workers = Workers(stack, es_client, delivery_indices, clock, OutboundPolicy(allow=(f"127.0.0.1:{mailbox.port}",)),
                      mail_config)
    rules = {rule.name: rule}.get
    day = [workers.store(matched(n, datetime(2026, 12, 3, 9 + n, tzinfo=timezone.utc))) for n in range(3)]
    late = workers.store(matched(9, datetime(2026, 12, 4, 7, 30, tzinfo=timezone.utc)))  # after 08:00 Paris

    async def a_day_of_matches(deliverer: Deliverer) -> int:
        for alert in day:
            clock.now = alert.matched_at
            await deliverer.hold(rule, rule.channels[0], alert)
        clock.now = datetime(2026, 12, 4, 6, 59, tzinfo=timezone.utc)  # 07:59 in Paris: not yet
        return await deliverer.tick(rules)
    assert workers.run(a_day_of_matches) == 0 and mailbox.messages == []

    clock.now = datetime(2026, 12, 4, 7, 30, tzinfo=timezone.utc)

    async def two_workers_at_due_time(first: Deliverer, second: Deliverer) -> list[int]:
        await first.hold(rule, rule.channels[0], late)
        return list(await asyncio.gather(first.tick(rules), second.tick(rules)))
    assert sorted(workers.run(two_workers_at_due_time, workers=2)) == [0, 1]
    (digest,) = mailbox.messages
    # (stripped: a folded header parses with the space it was folded at)
    assert digest["Subject"].strip() == "[newsstream] sanctions: Digest of 4 Dec 2026 08:00 Europe/Paris: 3 matches"
    text = digest.get_body(preferencelist=("plain",)).get_content()
    assert [line for line in text.splitlines() if line.startswith("EU sanctions, part")] == [
        "EU sanctions, part 2", "EU sanctions, part 1", "EU sanctions, part 0"]
    assert {a: d.status for a, d in workers.deliveries().items()} == {
        "alert-0": "sent", "alert-1": "sent", "alert-2": "sent", "alert-9": "held"}
    (notification,) = workers.notifications()
    assert (notification.kind, notification.status, sorted(notification.alert_ids)) == (
        "digest", "sent", ["alert-0", "alert-1", "alert-2"])

    clock.now = datetime(2026, 12, 5, 7, 0, 1, tzinfo=timezone.utc)  # the next morning: the late one
    assert workers.run(lambda deliverer: deliverer.tick(rules)) == 1
    assert len(mailbox.messages) == 2 and "1 match" in mailbox.messages[1]["Subject"]
