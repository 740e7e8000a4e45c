"""A compacted Kafka topic used as a durable key → value table: read in full, then written key by key.

Kafka keeps at least the latest record of every key, so reading the topic from its beginning to its
end gives the table; the poller does that at start and keeps its own writes in memory afterwards.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError


class TableError(Exception):
    """The topic is missing or Kafka cannot be reached."""


class CompactedTable:
    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self._producer: KafkaProducer | None = None

    def read_all(self) -> dict[str, bytes]:
        """The latest value of every key (a null value, a tombstone, removes the key)."""
        table: dict[str, bytes] = {}
        try:
            with _quiet_kafka():
                consumer = KafkaConsumer(bootstrap_servers=self.bootstrap_servers, group_id=None, enable_auto_commit=False)
            try:
                for key, value in self._records(consumer):
                    if value is None:
                        table.pop(key, None)
                    else:
                        table[key] = value
            finally:
                consumer.close()
        except KafkaError as error:
            raise TableError(f"reading {self.topic} at {self.bootstrap_servers}: {error}") from error
        return table

    def put(self, items: Mapping[str, bytes]) -> None:
        """Writes every item and returns once Kafka has acknowledged them all (acks=all)."""
        if not items:
            return
        try:
            if self._producer is None:
                self._producer = KafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all",
                                               enable_idempotence=True, linger_ms=5)
            futures = [self._producer.send(self.topic, key=key.encode(), value=value) for key, value in items.items()]
            self._producer.flush()
            for future in futures:
                future.get(timeout=60)
        except KafkaError as error:
            raise TableError(f"writing {self.topic} at {self.bootstrap_servers}: {error}") from error

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    def _records(self, consumer: KafkaConsumer) -> Iterator[tuple[str, bytes | None]]:
        with _quiet_kafka():
            partitions = [TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or ())]
        if not partitions:
            raise TableError(f"Kafka topic {self.topic} does not exist at {self.bootstrap_servers} "
                             "(`newsstream stack up` creates the project's topics)")
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(partition) < ends[partition] for partition in partitions):
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    yield record.key.decode(), record.value


@contextmanager
def _quiet_kafka() -> Iterator[None]:
    # kafka-python logs a warning for a topic it has no metadata for; the TableError says it better.
    kafka_logger = logging.getLogger("kafka")
    previous = kafka_logger.level
    kafka_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        kafka_logger.setLevel(previous)
