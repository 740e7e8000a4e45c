"""Live alerts: ONE aiokafka consumer per API process follows the alerts topic from its end and
fans every alert out to the listeners (the open `/alerts/stream` requests), each through a
bounded queue: a listener that falls that far behind is dropped (its stream ends, EventSource
reconnects) and never slows the others down.

The consumer starts with the first listener and runs until the API stops (`AlertHub.close`, in
the app's lifespan). A listener registered once the consumer is positioned at the end of the
topic gets every alert produced from then on."""
from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator

import anyio
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from clients.redact import redact_text
from newsstream.settings import Settings
from schemas.alerts import Alert

log = logging.getLogger("newsstream.api.alerts")

POLL_MS = 500  # also how long a stop may wait
LISTENER_QUEUE = 256  # alerts a listener may have waiting before it is dropped
START_TIMEOUT_S = 30.0


class AlertsUnavailable(KafkaError):
    """The alerts topic cannot be followed. The message says what happened, never where (the
    bootstrap address) nor the client library's own text: those go to the log."""

    def __str__(self) -> str:
        return self.args[0] if self.args else "Kafka did not answer"


class _Listener:
    def __init__(self) -> None:
        self.alerts: deque[Alert] = deque()
        self.wake = asyncio.Event()
        self.dropped = False  # fell more than LISTENER_QUEUE alerts behind
        self.error: KafkaError | None = None


class AlertHub:
    """The fan-out: `follow()` is one listener's view; `consumers_started` counts the consumers
    this hub ever made (one per start after a failure), `listeners` those following now."""

    def __init__(self, settings: Settings, stop: threading.Event) -> None:
        self.settings = settings
        self.stop = stop
        self.consumers_started = 0
        self._listeners: set[_Listener] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self._starting: asyncio.Task[None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    @property
    def running(self) -> bool:
        return self._runner is not None and not self._runner.done()

    async def _start(self) -> None:
        # No group: the consumer assigns itself every partition of the topic once it has its metadata.
        consumer = AIOKafkaConsumer(self.settings.topic_alerts, bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                    group_id=None, enable_auto_commit=False, fetch_max_wait_ms=200)
        self.consumers_started += 1
        try:
            with anyio.fail_after(START_TIMEOUT_S):
                await consumer.start()  # waits for the topic's metadata
                partitions = consumer.assignment()
                await consumer.seek_to_end(*partitions)
                for partition in partitions:
                    await consumer.position(partition)  # resolves the end now, not at the first fetch
        except BaseException as error:
            with anyio.CancelScope(shield=True):
                await consumer.stop()
            if isinstance(error, (KafkaError, TimeoutError, OSError)):
                log.warning("cannot follow %s on Kafka at %s: %s", self.settings.topic_alerts,
                            self.settings.kafka_bootstrap_servers, redact_text(f"{type(error).__name__}: {error}"))
                raise AlertsUnavailable("Kafka did not answer") from None
            raise
        self._consumer = consumer
        self._runner = asyncio.get_running_loop().create_task(self._run(consumer), name="alert-hub")

    async def _ensure_running(self) -> None:
        if self._closed or self.stop.is_set():
            raise AlertsUnavailable("the server is stopping")
        if self.running:
            return
        if self._starting is None or self._starting.done():
            self._starting = asyncio.get_running_loop().create_task(self._start(), name="alert-hub-start")
        # Shielded: a listener that leaves while the consumer starts does not cancel it for the others.
        await asyncio.shield(self._starting)

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        failure: KafkaError | None = None
        try:
            while not self._closed and not self.stop.is_set():
                for records in (await consumer.getmany(timeout_ms=POLL_MS)).values():
                    for record in records:
                        try:
                            alert = Alert.model_validate_json(record.value)
                        except ValidationError as error:
                            log.warning("skipping an unreadable alert at %s offset %d: %s",
                                        record.topic, record.offset, error)
                            continue
                        self._dispatch(alert)
        except KafkaError as error:
            log.warning("stopped following %s on Kafka at %s: %s", self.settings.topic_alerts,
                        self.settings.kafka_bootstrap_servers, redact_text(f"{type(error).__name__}: {error}"))
            failure = AlertsUnavailable("Kafka stopped answering")
        finally:
            self._consumer = None
            for listener in self._listeners:  # they end (with the failure, if any); new ones start anew
                listener.error = failure
                listener.wake.set()
            self._listeners.clear()
            with anyio.CancelScope(shield=True):
                await consumer.stop()

    def _dispatch(self, alert: Alert) -> None:
        for listener in list(self._listeners):
            if len(listener.alerts) >= LISTENER_QUEUE:
                log.warning("dropping a live alert listener that is %d alerts behind", LISTENER_QUEUE)
                listener.dropped = True
                self._listeners.discard(listener)
            else:
                listener.alerts.append(alert)
            listener.wake.set()

    async def follow(self) -> AsyncIterator[Alert | None]:
        """None once following (positioned at the end: from then on nothing is missed), then every
        alert as it comes, until the server stops or this listener falls too far behind. Raises
        AlertsUnavailable (an aiokafka KafkaError) when Kafka cannot be followed."""
        await self._ensure_running()
        listener = _Listener()
        self._listeners.add(listener)
        try:
            yield None
            while not self.stop.is_set():
                while listener.alerts:
                    yield listener.alerts.popleft()
                if listener.error is not None:
                    raise listener.error
                if listener.dropped or listener not in self._listeners:
                    return
                listener.wake.clear()
                try:
                    await asyncio.wait_for(listener.wake.wait(), POLL_MS / 1000)
                except TimeoutError:
                    pass
        finally:
            self._listeners.discard(listener)

    async def close(self) -> None:
        """Stops the consumer (the app's lifespan calls this on shutdown)."""
        self._closed = True
        for task in (self._starting, self._runner):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, KafkaError):
                    pass


# One hub per stop event, that is per API instance (ApiContext registers its own): routes that
# call follow_alerts(settings, stop) share its consumer.
_hubs: weakref.WeakKeyDictionary[threading.Event, AlertHub] = weakref.WeakKeyDictionary()


def register_hub(hub: AlertHub) -> None:
    _hubs[hub.stop] = hub


def hub_for(settings: Settings, stop: threading.Event) -> AlertHub:
    hub = _hubs.get(stop)
    if hub is None:
        hub = _hubs[stop] = AlertHub(settings, stop)
    return hub


async def follow_alerts(settings: Settings, stop: threading.Event) -> AsyncIterator[Alert | None]:
    """Yields None once positioned at the end of the topic (from then on nothing is missed),
    then every alert produced after that point, as it comes, until `stop` is set. Raises
    aiokafka's KafkaError (AlertsUnavailable) when Kafka is unreachable or has no such topic.
    Every caller with the same `stop` shares one consumer (see AlertHub)."""
    async for alert in hub_for(settings, stop).follow():
        yield alert
