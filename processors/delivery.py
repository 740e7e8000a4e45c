"""Delivery of alerts to their rules' channels (a signed JSON webhook, a Slack or Mattermost
incoming webhook, mail through the configured server; what each is sent is built by
processors/notifications.py): in the background, bounded, with retries; never blocks the stream.
The alert is already in the alerts index and topic before a channel is tried, so a failing
channel loses nothing, and the delivery log (`DeliveryLog`) makes each (alert, channel) at most once.

A throttled or digest rule's alerts are held in the log (status `held`) and go out together: a
digest when its time comes (`tick`, every worker, every half minute), a throttled rule's message
when its clock hour has room. Each such message is created in the notifications log before it is
sent, so two workers never send the same digest, and a held delivery is taken with an optimistic
write, so no alert is listed in two messages. A crash after taking and before sending leaves the
deliveries `sending`: never sent twice, and listed as such.

Every request goes through the outbound-request guard (clients/outbound.py): no internal address
unless allow-listed, checked at each attempt so a DNS change cannot bypass it, and redirects are
not followed (a receiver that moved is a failed delivery, reported, not a hop to anywhere). The
mail server too: its name is resolved and checked, and the connection goes to the checked
address while STARTTLS verifies the certificate against the name.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any, NamedTuple, Protocol

import httpx

from clients.outbound import OutboundPolicy, OutboundRefused, check_smtp_host, guarded_async_client
from processors.cadence import UNTHROTTLED, hour_start, is_held, last_due
from processors.config import MailConfig
from processors.notifications import (
    bundle_heading, bundle_mail_message, bundle_request_body, mail_message, request_body,
)
from processors.rulebook import shown_target
from schemas.alerts import Alert, Channel, Delivery, Notification, Rule, channel_id, delivery_id, notification_id

log = logging.getLogger("newsstream.delivery")


class _CheckedSMTP(smtplib.SMTP):
    """Connects to an address the guard checked, while STARTTLS verifies the server's name."""

    def __init__(self, address: str, timeout: float) -> None:
        self._address = address
        super().__init__(timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self._address, port), timeout, self.source_address)


def send_mail(config: MailConfig, policy: OutboundPolicy, message: EmailMessage) -> None:
    """One message through the mail server (blocking: run it in a thread). Raises OutboundRefused
    when the guard refuses the server, smtplib.SMTPException or OSError when sending fails."""
    address = check_smtp_host(config.host, config.port, policy)
    with _CheckedSMTP(address, config.timeout_s) as smtp:
        smtp.connect(config.host, config.port)
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.user:
            smtp.login(config.user, config.password or "")
        smtp.send_message(message)


class HeldDelivery(NamedTuple):
    delivery: Delivery
    version: Any  # the record's version when read: `take` writes only if it is unchanged


class DeliveryLog(Protocol):
    async def claim(self, delivery: Delivery) -> bool:
        """Creates the delivery's record; False when one exists (this alert was sent to this
        channel before, or is being sent, or held): the channel gets it at most once."""

    async def update(self, delivery: Delivery) -> None:
        """Writes the delivery's record as it stands now (an attempt's outcome)."""

    async def held(self, rule: str, channel: str, before: datetime | None) -> list[HeldDelivery]:
        """The held deliveries of the rule to the channel (a `channel_id`), matched before `before`."""

    async def take(self, held: HeldDelivery) -> bool:
        """Marks a held delivery `sending`, unless it changed since it was read (another worker
        took it): False then."""

    async def held_channels(self) -> list[tuple[str, str, datetime]]:
        """(rule, channel id, oldest match) of every channel that holds deliveries."""

    async def claim_notification(self, notification: Notification) -> bool:
        """Creates the message's record; False when one exists (sent, or being sent, elsewhere)."""

    async def update_notification(self, notification: Notification) -> None: ...

    async def alerts(self, ids: list[str]) -> list[Alert]:
        """The alerts as stored now (with the articles added to them since), those that exist."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


Progress = Callable[[str, int, "str | None"], Awaitable[None]]


class Deliverer:
    # Tries of the delivery log's claim before a delivery is given up (it is never sent unclaimed).
    CLAIM_ATTEMPTS = 5

    def __init__(self, policy: OutboundPolicy, deliveries: DeliveryLog, secret: str | None = None,
                 mail: MailConfig | None = None, attempts: int = 5, max_in_flight: int = 100,
                 first_delay_s: float = 0.5, clock: Callable[[], datetime] = _now) -> None:
        self.policy = dataclasses.replace(policy, max_redirects=0)
        self.deliveries = deliveries
        self.mail = mail
        self.secret = secret  # signs webhook bodies (processors/notifications.py)
        self.attempts = attempts
        self.first_delay_s = first_delay_s
        self.clock = clock  # digests and throttling read the time here (tests set it)
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._client: httpx.AsyncClient | None = None
        # The next throttle slot worth trying per (rule, channel, hour): slots this worker used.
        self._next_slot: dict[tuple[str, str, datetime], int] = {}

    def schedule(self, rule: Rule, alert: Alert) -> None:
        """Starts the alert's delivery to each of the rule's channels, or holds it for the rule's
        next digest or throttled message; in the background, never raising into the stream."""
        for channel in rule.channels:
            self._start(self.hold(rule, channel, alert) if is_held(rule) else self.deliver(channel, alert))

    def _start(self, work: Coroutine[Any, Any, bool]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _delivery(self, channel: Channel, alert: Alert, status: str) -> Delivery:
        return Delivery(id=delivery_id(alert.id, channel), alert_id=alert.id, rule=alert.rule, channel=channel.kind,
                        target=shown_target(channel), status=status, channel_id=channel_id(channel),  # type: ignore[arg-type]
                        matched_at=alert.matched_at)

    async def deliver(self, channel: Channel, alert: Alert) -> bool:
        """Sends `alert` to `channel` unless the log has it already; True once it is sent."""
        delivery = self._delivery(channel, alert, "sending")
        shown = f"{channel.kind} {delivery.target}"

        async def progress(status: str, attempts: int, reason: str | None) -> None:
            latency = round((self.clock() - alert.matched_at).total_seconds() * 1000, 1) if status == "sent" else None
            await self._record(delivery, status=status, attempts=attempts, reason=reason, latency_ms=latency)

        async with self._slots:
            if not await self._claimed(delivery, shown):
                return False
            return await self._send(
                channel, f"{shown} for alert {alert.id}", progress,
                lambda recipient: mail_message(alert, self._sender, recipient),
                lambda timestamp: request_body(channel, alert, self.secret, timestamp))

    async def hold(self, rule: Rule, channel: Channel, alert: Alert) -> bool:
        """Keeps `alert` for the channel's next digest or throttled message (a throttled rule's
        goes at once while its hour has room). False when the log had it already."""
        delivery = self._delivery(channel, alert, "held")
        async with self._slots:
            if not await self._claimed(delivery, f"{channel.kind} {delivery.target}"):
                return False
        if rule.digest is None:
            await self.flush(rule, channel)
        return True

    async def flush(self, rule: Rule, channel: Channel) -> bool:
        """Sends what the channel holds of the rule as one message, if one is due: a digest once
        its time has come (what was matched before that time), a throttled rule's message while its
        clock hour has room. True when a message was sent."""
        now = self.clock()
        if rule.digest is not None:
            kind, period, slots, tz = "digest", last_due(rule.digest, now), 1, rule.digest.tz
            before: datetime | None = period
        else:
            # A rule whose cadence was removed sends what it held without a limit.
            kind, period, slots, tz = "throttled", hour_start(now), rule.throttle or UNTHROTTLED, "UTC"
            before = None
        key = channel_id(channel)
        if self._next_slot.get((rule.name, key, period), 0) >= slots:
            return False  # this worker saw the hour used up (or this digest sent)
        held = await self.deliveries.held(rule.name, key, before)
        if not held:
            return False
        notification = Notification(id="", rule=rule.name, channel=channel.kind, target=shown_target(channel),
                                    kind=kind, period=period, alert_ids=[h.delivery.alert_id for h in held],
                                    status="sending")
        if kind == "digest":
            # Claimed first: the worker that sends the period's digest takes everything it holds.
            claimed = await self._claim_slot(notification, channel, key, 1)
            if claimed is None:
                return False
            taken = [h.delivery for h in held if await self.deliveries.take(h)]
        else:
            # Taken first: a throttled rule's slot is spent only on a message with something in it.
            taken = [h.delivery for h in held if await self.deliveries.take(h)]
            if not taken:
                return False
            claimed = await self._claim_slot(notification, channel, key, slots)
            if claimed is None:
                for delivery in taken:  # the hour is used up: they wait for the next
                    await self._record(delivery, status="held")
                return False
        notification = notification.model_copy(update={"id": claimed, "alert_ids": [d.alert_id for d in taken]})
        if not taken:  # another worker's throttled message took them meanwhile
            await self._best_effort(self.deliveries.update_notification(notification.model_copy(update={
                "status": "failed", "reason": "nothing held any more"})), f"{kind} {claimed}")
            return False
        return await self._send_taken(channel, notification, taken, tz)

    async def _claim_slot(self, notification: Notification, channel: Channel, key: str, slots: int) -> str | None:
        """Creates the message's record in the first free slot of its period: its id, or None
        when every slot is taken."""
        period = notification.period
        self._next_slot = {k: v for k, v in self._next_slot.items() if k[2] >= period}  # past hours: forgotten
        slot = self._next_slot.get((notification.rule, key, period), 0)
        claimed = None
        while claimed is None and slot < slots:
            candidate = notification.model_copy(update={"id": notification_id(notification.rule, channel, period, slot)})
            slot += 1
            if await self.deliveries.claim_notification(candidate):
                claimed = candidate.id
        self._next_slot[(notification.rule, key, period)] = slot
        return claimed

    async def _send_taken(self, channel: Channel, notification: Notification, taken: list[Delivery], tz: str) -> bool:
        alerts = sorted(await self.deliveries.alerts(notification.alert_ids), key=lambda a: a.matched_at, reverse=True)
        heading = bundle_heading(notification, tz)
        shown = f"{channel.kind} {notification.target}"
        if not alerts:  # their alerts were deleted meanwhile: nothing to say
            reason = "the alerts are no longer stored"
            await self._best_effort(self.deliveries.update_notification(notification.model_copy(update={
                "status": "failed", "reason": reason})), shown)
            for delivery in taken:
                await self._record(delivery, status="failed", reason=reason, notification=notification.id)
            return False

        async def progress(status: str, attempts: int, reason: str | None) -> None:
            if status in ("sent", "failed"):  # retries show in the log once they end
                notified = notification.model_copy(update={"status": status, "reason": reason,
                                                           "updated_at": self.clock()})
                await self._best_effort(self.deliveries.update_notification(notified), shown)
                for delivery in taken:
                    latency = round((self.clock() - delivery.matched_at).total_seconds() * 1000, 1)
                    await self._record(delivery, status=status, attempts=attempts, reason=reason,
                                       notification=notification.id, latency_ms=latency if status == "sent" else None)

        single = len(alerts) == 1 and notification.kind == "throttled"  # a throttled rule's hour with room
        async with self._slots:
            return await self._send(
                channel, f"{shown} ({notification.kind} of {len(alerts)})", progress,
                (lambda recipient: mail_message(alerts[0], self._sender, recipient)) if single else
                (lambda recipient: bundle_mail_message(notification, alerts, heading, self._sender, recipient)),
                (lambda timestamp: request_body(channel, alerts[0], self.secret, timestamp)) if single else
                (lambda timestamp: bundle_request_body(channel, notification, alerts, heading, self.secret, timestamp)))

    async def tick(self, rule_named: Callable[[str], Rule | None]) -> int:
        """Sends every digest that is due and every throttled message that has room; how many."""
        sent = 0
        now = self.clock()
        for name, key, oldest in await self.deliveries.held_channels():
            rule = rule_named(name)
            channel = next((c for c in rule.channels if channel_id(c) == key), None) if rule else None
            if rule is None or channel is None:
                continue  # the rule or the channel was removed: what it held stays listed as held
            if rule.digest is not None and oldest >= last_due(rule.digest, now):
                continue  # matched after the last digest: waits for the next
            sent += await self.flush(rule, channel)
        return sent

    async def run(self, rule_named: Callable[[str], Rule | None], every_s: float = 30.0) -> None:
        """`tick` forever; a failing tick is logged and tried again at the next."""
        while True:
            try:
                await self.tick(rule_named)
            except Exception as error:  # noqa: BLE001 - the log is down: the next tick tries again
                log.warning("digests and throttled messages not sent this time (%s: %s)", type(error).__name__, error)
            await asyncio.sleep(every_s)

    @property
    def _sender(self) -> str:
        return self.mail.sender if self.mail else ""

    async def _send(self, channel: Channel, what: str, progress: Progress,
                    build_mail: Callable[[str], EmailMessage], build_request: Callable[[int], tuple[bytes, dict[str, str]]]
                    ) -> bool:
        """Attempts with backoff; `progress` hears each outcome (retrying, sent, failed). True once sent."""
        delay = self.first_delay_s
        for attempt in range(1, self.attempts + 1):
            try:
                reason = await self._attempt(channel, build_mail, build_request)
                if reason is None:
                    await progress("sent", attempt, None)
                    return True
            except OutboundRefused as refused:
                log.error("%s refused: %s", what, refused)
                # The policy (or the missing mail server) will not change between attempts.
                await progress("failed", attempt, f"refused: {refused}")
                return False
            except (httpx.HTTPError, OSError) as error:  # smtplib's errors are OSErrors
                reason = type(error).__name__
            log.warning("%s failed (%s), attempt %d/%d", what, reason, attempt, self.attempts)
            last = attempt == self.attempts
            await progress("failed" if last else "retrying", attempt, reason)
            if not last:
                await asyncio.sleep(delay)
                delay *= 2
        log.error("%s: given up; the alerts stay in the index and topic", what)
        return False

    async def _attempt(self, channel: Channel, build_mail: Callable[[str], EmailMessage],
                       build_request: Callable[[int], tuple[bytes, dict[str, str]]]) -> str | None:
        """One try: None when the channel took it, else why not (raises on a transport error)."""
        if channel.kind == "email":
            if self.mail is None:
                raise OutboundRefused("no mail server is configured (NEWSSTREAM_SMTP_HOST)")
            await asyncio.to_thread(send_mail, self.mail, self.policy, build_mail(channel.address))
            return None
        self._client = self._client or guarded_async_client(self.policy)
        # Signed again at each attempt: a receiver may refuse an old timestamp.
        body, headers = build_request(int(time.time()))
        response = await self._client.post(channel.url, content=body, headers=headers)
        return None if response.status_code < 300 else f"HTTP {response.status_code}"

    async def _claimed(self, delivery: Delivery, shown: str) -> bool:
        delay = self.first_delay_s
        for attempt in range(1, self.CLAIM_ATTEMPTS + 1):
            try:
                if await self.deliveries.claim(delivery):
                    return True
                log.info("%s for alert %s: delivered or being delivered already", shown, delivery.alert_id)
                return False
            except Exception as error:  # noqa: BLE001 - the log is down: retry, then give up unsent
                log.warning("delivery log unreachable for %s (%s: %s), attempt %d/%d", shown,
                            type(error).__name__, error, attempt, self.CLAIM_ATTEMPTS)
                if attempt < self.CLAIM_ATTEMPTS:
                    await asyncio.sleep(delay)
                    delay *= 2
        log.error("%s for alert %s not sent: the delivery log cannot record it", shown, delivery.alert_id)
        return False

    async def _record(self, delivery: Delivery, **changes: object) -> None:
        """Best effort: a delivery log that fails now loses an attempt's record, not the delivery."""
        update = delivery.model_copy(update={"updated_at": self.clock(), **changes})
        await self._best_effort(self.deliveries.update(update), f"{delivery.channel} of alert {delivery.alert_id}")

    @staticmethod
    async def _best_effort(write: Awaitable[None], what: str) -> None:
        try:
            await write
        except Exception as error:  # noqa: BLE001
            log.warning("delivery log: %s not recorded (%s: %s)", what, type(error).__name__, error)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        if self._client:
            await self._client.aclose()
