"""Webhook delivery of alerts: in the background, bounded, with retries; never blocks the stream.
The alert is already in the alerts index and topic before a webhook is tried, so a failing
webhook loses nothing."""
from __future__ import annotations

import asyncio
import logging

import aiohttp

from schemas.alerts import Alert

log = logging.getLogger("newsstream.webhooks")


class WebhookSender:
    def __init__(self, timeout_s: float = 5.0, attempts: int = 5, max_in_flight: int = 100) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.attempts = attempts
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[bool]] = set()
        self._session: aiohttp.ClientSession | None = None

    def schedule(self, url: str, alert: Alert) -> None:
        task = asyncio.create_task(self.deliver(url, alert))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, url: str, alert: Alert) -> bool:
        async with self._slots:
            self._session = self._session or aiohttp.ClientSession(timeout=self.timeout)
            delay = 0.5
            for attempt in range(1, self.attempts + 1):
                try:
                    async with self._session.post(url, data=alert.model_dump_json(),
                                                  headers={"Content-Type": "application/json"}) as response:
                        if response.status < 300:
                            return True
                        reason = f"HTTP {response.status}"
                except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                    reason = f"{type(error).__name__}: {error}"
                log.warning("webhook %s for alert %s failed (%s), attempt %d/%d", url, alert.id, reason,
                            attempt, self.attempts)
                if attempt < self.attempts:
                    await asyncio.sleep(delay)
                    delay *= 2
            log.error("webhook %s gave up on alert %s; the alert stays in the index and topic", url, alert.id)
            return False

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        if self._session:
            await self._session.close()
