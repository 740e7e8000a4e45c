"""Delivery of alerts to their rules' channels (a signed JSON webhook, a Slack or Mattermost
incoming webhook, mail through the configured server; what each is sent is built by
processors/notifications.py): in the background, bounded, with retries; never blocks the stream.
The alert is already in the alerts index and topic before a channel is tried, so a failing
channel loses nothing, and the delivery log (`DeliveryLog`) makes each (alert, channel) at most once.

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
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Protocol

import httpx

from clients.outbound import OutboundPolicy, OutboundRefused, check_smtp_host, guarded_async_client
from processors.config import MailConfig
from processors.notifications import mail_message, request_body
from processors.rulebook import shown_target
from schemas.alerts import Alert, Channel, Delivery, delivery_id

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


class DeliveryLog(Protocol):
    async def claim(self, delivery: Delivery) -> bool:
        """Creates the delivery's record; False when one exists (this alert was sent to this
        channel before, or is being sent): the channel gets it at most once."""

    async def update(self, delivery: Delivery) -> None:
        """Writes the delivery's record as it stands now (an attempt's outcome)."""


class Deliverer:
    # Tries of the delivery log's claim before a delivery is given up (it is never sent unclaimed).
    CLAIM_ATTEMPTS = 5

    def __init__(self, policy: OutboundPolicy, deliveries: DeliveryLog, secret: str | None = None,
                 mail: MailConfig | None = None, attempts: int = 5, max_in_flight: int = 100,
                 first_delay_s: float = 0.5) -> None:
        self.policy = dataclasses.replace(policy, max_redirects=0)
        self.deliveries = deliveries
        self.mail = mail
        self.secret = secret  # signs webhook bodies (processors/notifications.py)
        self.attempts = attempts
        self.first_delay_s = first_delay_s
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[bool]] = set()
        self._client: httpx.AsyncClient | None = None

    def schedule(self, channel: Channel, alert: Alert) -> None:
        task = asyncio.create_task(self.deliver(channel, alert))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, channel: Channel, alert: Alert) -> bool:
        """Sends `alert` to `channel` unless the log has it already; True once it is sent."""
        delivery = Delivery(id=delivery_id(alert.id, channel), alert_id=alert.id, rule=alert.rule, channel=channel.kind,
                            target=shown_target(channel), status="sending", matched_at=alert.matched_at)
        shown = f"{channel.kind} {delivery.target}"
        async with self._slots:
            if not await self._claimed(delivery, shown):
                return False
            delay = self.first_delay_s
            for attempt in range(1, self.attempts + 1):
                try:
                    reason = await self._attempt(channel, alert)
                    if reason is None:
                        latency_s = (datetime.now(timezone.utc) - alert.matched_at).total_seconds()
                        await self._record(delivery, status="sent", attempts=attempt, latency_ms=round(latency_s * 1000, 1))
                        return True
                except OutboundRefused as refused:
                    log.error("%s for alert %s refused: %s", shown, alert.id, refused)
                    # The policy (or the missing mail server) will not change between attempts.
                    await self._record(delivery, status="failed", attempts=attempt, reason=f"refused: {refused}")
                    return False
                except (httpx.HTTPError, OSError) as error:  # smtplib's errors are OSErrors
                    reason = type(error).__name__
                log.warning("%s for alert %s failed (%s), attempt %d/%d", shown, alert.id, reason,
                            attempt, self.attempts)
                last = attempt == self.attempts
                await self._record(delivery, status="failed" if last else "retrying", attempts=attempt, reason=reason)
                if not last:
                    await asyncio.sleep(delay)
                    delay *= 2
            log.error("%s gave up on alert %s; the alert stays in the index and topic", shown, alert.id)
            return False

    async def _attempt(self, channel: Channel, alert: Alert) -> str | None:
        """One try: None when the channel took it, else why not (raises on a transport error)."""
        if channel.kind == "email":
            if self.mail is None:
                raise OutboundRefused("no mail server is configured (NEWSSTREAM_SMTP_HOST)")
            message = mail_message(alert, self.mail.sender, channel.address)
            await asyncio.to_thread(send_mail, self.mail, self.policy, message)
            return None
        self._client = self._client or guarded_async_client(self.policy)
        # Signed again at each attempt: a receiver may refuse an old timestamp.
        body, headers = request_body(channel, alert, self.secret, int(time.time()))
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
        try:
            await self.deliveries.update(delivery.model_copy(update={"updated_at": datetime.now(timezone.utc), **changes}))
        except Exception as error:  # noqa: BLE001
            log.warning("delivery log: %s of alert %s not recorded (%s: %s)", delivery.channel, delivery.alert_id,
                        type(error).__name__, error)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        if self._client:
            await self._client.aclose()
