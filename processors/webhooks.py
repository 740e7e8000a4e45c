"""Delivery of alerts to their rules' HTTP channels (a signed JSON webhook, a Slack or Mattermost
incoming webhook; the requests are built by processors/notifications.py): in the background,
bounded, with retries; never blocks the stream. The alert is already in the alerts index and
topic before a channel is tried, so a failing channel loses nothing.

Every request goes through the outbound-request guard (clients/outbound.py): no internal address
unless allow-listed, checked at each attempt so a DNS change cannot bypass it, and redirects are
not followed (a receiver that moved is a failed delivery, reported, not a hop to anywhere).
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import datetime, timezone
from typing import Protocol

import httpx

from clients.outbound import OutboundPolicy, OutboundRefused, guarded_async_client
from processors.notifications import request_body
from processors.rulebook import shown_target
from schemas.alerts import Alert, Channel, Delivery, delivery_id

log = logging.getLogger("newsstream.webhooks")


class DeliveryLog(Protocol):
    async def claim(self, delivery: Delivery) -> bool:
        """Creates the delivery's record; False when one exists (this alert was sent to this
        channel before, or is being sent): the channel gets it at most once."""

    async def update(self, delivery: Delivery) -> None:
        """Writes the delivery's record as it stands now (an attempt's outcome)."""


class WebhookSender:
    # Tries of the delivery log's claim before a delivery is given up (it is never sent unclaimed).
    CLAIM_ATTEMPTS = 5

    def __init__(self, policy: OutboundPolicy, deliveries: DeliveryLog, secret: str | None = None, attempts: int = 5,
                 max_in_flight: int = 100, first_delay_s: float = 0.5) -> None:
        self.policy = dataclasses.replace(policy, max_redirects=0)
        self.deliveries = deliveries
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
        shown = f"{channel.kind} {shown_target(channel)}"
        delivery = Delivery(id=delivery_id(alert.id, channel), alert_id=alert.id, rule=alert.rule, channel=channel.kind,
                            target=shown_target(channel), status="sending", matched_at=alert.matched_at)
        async with self._slots:
            if not await self._claimed(delivery, shown):
                return False
            self._client = self._client or guarded_async_client(self.policy)
            delay = self.first_delay_s
            for attempt in range(1, self.attempts + 1):
                # Signed again at each attempt: a receiver may refuse an old timestamp.
                body, headers = request_body(channel, alert, self.secret, int(time.time()))
                try:
                    response = await self._client.post(channel.url, content=body, headers=headers)
                    if response.status_code < 300:
                        now = datetime.now(timezone.utc)
                        await self._record(delivery, status="sent", attempts=attempt, updated_at=now,
                                           latency_ms=round((now - alert.matched_at).total_seconds() * 1000, 1))
                        return True
                    reason = f"HTTP {response.status_code}"
                except OutboundRefused as refused:
                    log.error("%s for alert %s refused: %s", shown, alert.id, refused)
                    # The policy will not change between attempts.
                    await self._record(delivery, status="failed", attempts=attempt, reason=f"refused: {refused}")
                    return False
                except httpx.HTTPError as error:
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
