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

import httpx

from clients.outbound import OutboundPolicy, OutboundRefused, guarded_async_client
from clients.redact import redact_url
from processors.notifications import request_body
from schemas.alerts import Alert, Channel

log = logging.getLogger("newsstream.webhooks")


class WebhookSender:
    def __init__(self, policy: OutboundPolicy, secret: str | None = None, attempts: int = 5,
                 max_in_flight: int = 100, first_delay_s: float = 0.5) -> None:
        self.policy = dataclasses.replace(policy, max_redirects=0)
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
        shown = f"{channel.kind} {redact_url(channel.url)}"
        async with self._slots:
            self._client = self._client or guarded_async_client(self.policy)
            delay = self.first_delay_s
            for attempt in range(1, self.attempts + 1):
                # Signed again at each attempt: a receiver may refuse an old timestamp.
                body, headers = request_body(channel, alert, self.secret, int(time.time()))
                try:
                    response = await self._client.post(channel.url, content=body, headers=headers)
                    if response.status_code < 300:
                        return True
                    reason = f"HTTP {response.status_code}"
                except OutboundRefused as refused:
                    log.error("%s for alert %s refused: %s", shown, alert.id, refused)
                    return False  # the policy will not change between attempts
                except httpx.HTTPError as error:
                    reason = type(error).__name__
                log.warning("%s for alert %s failed (%s), attempt %d/%d", shown, alert.id, reason,
                            attempt, self.attempts)
                if attempt < self.attempts:
                    await asyncio.sleep(delay)
                    delay *= 2
            log.error("%s gave up on alert %s; the alert stays in the index and topic", shown, alert.id)
            return False

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        if self._client:
            await self._client.aclose()
