"""Live alerts: the alerts topic followed from its end with aiokafka, one consumer per listener."""
from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator

import anyio
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from newsstream.settings import Settings
from schemas.alerts import Alert

log = logging.getLogger("newsstream.api.alerts")


POLL_MS = 500  # also how long a stop may wait


async def follow_alerts(settings: Settings, stop: threading.Event) -> AsyncIterator[Alert | None]:
    """Yields None once positioned at the end of the topic (from then on nothing is missed),
    then every alert produced after that point, as it comes, until `stop` is set. Raises
    aiokafka's KafkaError when Kafka is unreachable or has no such topic."""
    # No group: the consumer assigns itself every partition of the topic once it has its metadata.
    consumer = AIOKafkaConsumer(settings.topic_alerts, bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id=None, enable_auto_commit=False, fetch_max_wait_ms=200)
    try:
        await consumer.start()  # waits for the topic's metadata
        partitions = consumer.assignment()
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)  # resolves the end now, not at the first fetch
        yield None
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=POLL_MS)).values():
                for record in records:
                    try:
                        yield Alert.model_validate_json(record.value)
                    except ValidationError as error:
                        log.warning("skipping an unreadable alert at %s offset %d: %s",
                                    record.topic, record.offset, error)
    finally:
        # The listener is gone and its task cancelled: the consumer must still leave cleanly.
        with anyio.CancelScope(shield=True):
            await consumer.stop()
