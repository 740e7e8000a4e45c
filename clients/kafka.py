"""Kafka clients configured one way: the admin client and topic creation, the producer factory,
Faust's producer options, the reader of a topic to its end and the compacted table. Every
producer and reader of the project is made here."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError, TopicAlreadyExistsError

from schemas.topics import MAX_MESSAGE_BYTES, TopicSpec

Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]


@dataclass(frozen=True)
class KafkaClientConfig:
    bootstrap_servers: str
    # zstd: 0.39 of the bytes of none on 1,000 BBC articles (gzip 0.38, lz4 0.59, snappy 0.61) at
    # the producer CPU of none: per-message overhead dominates (`newsstream measure codecs`).
    compression: Compression = "zstd"
    max_message_bytes: int = MAX_MESSAGE_BYTES


@contextmanager
def admin_client(config: KafkaClientConfig, *, timeout_s: float = 30) -> Iterator[KafkaAdminClient]:
    # kafka-python logs every refused connection as a warning; callers report failures themselves.
    kafka_logger = logging.getLogger("kafka")
    previous_level = kafka_logger.level
    kafka_logger.setLevel(logging.CRITICAL)
    try:
        admin = KafkaAdminClient(bootstrap_servers=config.bootstrap_servers, client_id="newsstream-admin",
                                 bootstrap_timeout_ms=int(timeout_s * 1000), request_timeout_ms=int(timeout_s * 1000))
        try:
            yield admin
        finally:
            admin.close()
    finally:
        kafka_logger.setLevel(previous_level)


def ensure_topics(config: KafkaClientConfig, topics: Mapping[str, TopicSpec], default_partitions: int,
                  replication_factor: int = -1, min_insync_replicas: int | None = None) -> list[str]:
    """Creates those of `topics` (name -> spec) that are missing; returns the names created.

    Existing topics are left as they are. A replication factor of -1 and a `min_insync_replicas` of
    None take the broker's defaults.
    """
    placement = {} if min_insync_replicas is None else {"min.insync.replicas": str(min_insync_replicas)}
    with admin_client(config) as admin:
        missing = {name: spec for name, spec in topics.items() if name not in set(admin.list_topics())}
        if not missing:
            return []
        result = admin.create_topics({
            name: {"num_partitions": spec.partitions or default_partitions, "replication_factor": replication_factor,
                   "configs": {**spec.configs(), **placement}} for name, spec in missing.items()}, raise_errors=False)
        for topic in result["topics"]:
            if topic["error_code"] not in (0, TopicAlreadyExistsError.errno):  # a concurrent creator won
                raise KafkaError(f"could not create topic {topic['name']}: {topic['error_message']}")
        admin.wait_for_topics(list(missing), timeout_ms=30_000)
    return list(missing)


def make_producer(config: KafkaClientConfig, **overrides: Any) -> KafkaProducer:
    """Idempotent, acks=all, compressed, sized for the largest message the broker takes."""
    options: dict[str, Any] = {
        "bootstrap_servers": config.bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        # Rides out a broker restart: keep retrying delivery for two minutes before giving up.
        "delivery_timeout_ms": 120_000,
        "retry_backoff_ms": 200,
        "linger_ms": 20,
        # Larger batches compress better (measure codecs: zstd 0.45 -> 0.39 of none at 16 -> 128 KiB).
        "batch_size": 128 * 1024,
        "compression_type": None if config.compression == "none" else config.compression,
        "max_request_size": config.max_message_bytes,
        **overrides,
    }
    return KafkaProducer(**options)


def faust_producer_options(config: KafkaClientConfig) -> dict[str, Any]:
    """The same producer guarantees for Faust's (aiokafka) producer."""
    return {
        "producer_acks": -1,
        "producer_max_request_size": config.max_message_bytes,
        "producer_compression_type": None if config.compression == "none" else config.compression,
    }


class TopicMissing(KafkaError):
    """The topic does not exist (yet)."""


def read_topic(config: KafkaClientConfig, topic: str, must_exist: bool = False) -> Iterator[ConsumerRecord]:
    """Every record of a topic from its beginning to its end as of the call, without a consumer
    group: for commands that show what a topic holds (dead letters, alerts, feed state)."""
    consumer = KafkaConsumer(bootstrap_servers=config.bootstrap_servers, group_id=None, enable_auto_commit=False,
                             fetch_max_bytes=config.max_message_bytes * 2,
                             max_partition_fetch_bytes=config.max_message_bytes)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not partitions:
            if must_exist:
                raise TopicMissing(f"Kafka topic {topic} does not exist at {config.bootstrap_servers} "
                                   "(`newsstream setup` creates the project's topics)")
            return
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(p) < ends[p] for p in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                yield from records
    finally:
        consumer.close()


@contextmanager
def follow_topic(config: KafkaClientConfig, topic: str) -> Iterator[Callable[[int], list[ConsumerRecord]]]:
    """Positioned at the topic's end on entry (nothing produced after that is missed); yields a
    poll function giving the records that arrived since, waiting up to its timeout in ms."""
    consumer = KafkaConsumer(bootstrap_servers=config.bootstrap_servers, group_id=None, enable_auto_commit=False,
                             max_partition_fetch_bytes=config.max_message_bytes)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        consumer.seek_to_end(*partitions)
        for partition in partitions:
            consumer.position(partition)  # resolves the end now, not at the first poll
        yield lambda timeout_ms: [record for records in consumer.poll(timeout_ms=timeout_ms).values()
                                  for record in records]
    finally:
        consumer.close()


class TableError(KafkaError):
    """The table's topic is missing or Kafka cannot be reached."""


class CompactedTable:
    """A compacted topic used as a durable key -> value table: read in full, then written key by key.

    Kafka keeps at least the latest record of every key, so reading the topic from its beginning
    to its end gives the table; users read it at start and keep their own writes in memory."""

    def __init__(self, config: KafkaClientConfig, topic: str) -> None:
        self.config = config
        self.topic = topic
        self._producer: KafkaProducer | None = None

    def read_all(self) -> dict[str, bytes]:
        """The latest value of every key (a null value, a tombstone, removes the key)."""
        table: dict[str, bytes] = {}
        try:
            for record in read_topic(self.config, self.topic, must_exist=True):
                if record.value is None:
                    table.pop(record.key.decode(), None)
                else:
                    table[record.key.decode()] = record.value
        except KafkaError as error:
            raise TableError(f"reading {self.topic}: {error}") from error
        return table

    def put(self, items: Mapping[str, bytes]) -> None:
        """Writes every item and returns once Kafka has acknowledged them all (acks=all)."""
        if not items:
            return
        try:
            if self._producer is None:
                self._producer = make_producer(self.config, linger_ms=5)
            futures = [self._producer.send(self.topic, key=key.encode(), value=value) for key, value in items.items()]
            self._producer.flush()
            for future in futures:
                future.get(timeout=60)
        except KafkaError as error:
            raise TableError(f"writing {self.topic}: {error}") from error

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
