"""Alert rules: durable in a compacted Kafka topic keyed by rule name (a null value deletes), read
in full by every worker at start and then followed, and mirrored to an index for listing."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from clients import undecodable
from clients.kafka import make_producer
from newsstream.settings import Settings
from processors.alerts import RuleIndex, compile_query
from schemas.alerts import Rule

log = logging.getLogger("newsstream.rules")

RULES_MAPPING = {
    "dynamic": "strict",
    "properties": {
        "name": {"type": "keyword"}, "query": {"type": "text"}, "lang": {"type": "keyword"},
        "entity": {"type": "keyword"}, "source": {"type": "keyword"}, "webhook": {"type": "keyword"},
        "created_at": {"type": "date"},
    },
}


def publish_rule(settings: Settings, es: Any, rule: Rule) -> None:
    """Validates the query (raises InvalidRuleQuery), then stores the rule durably and mirrors it."""
    compile_query(rule.query, settings.language_set)
    _send(settings, rule.name, rule.model_dump_json().encode())
    ensure_index(es, settings.index_rules, RULES_MAPPING)
    es.index(index=settings.index_rules, id=rule.name, document=rule.model_dump(mode="json"), refresh="wait_for")


def delete_rule(settings: Settings, es: Any, name: str) -> bool:
    existed = es.options(ignore_status=404).delete(index=settings.index_rules, id=name, refresh="wait_for")
    _send(settings, name, None)  # the tombstone: compaction forgets the rule, followers drop it
    return existed.get("result") == "deleted"


def list_rules(settings: Settings, es: Any) -> list[Rule]:
    if not es.indices.exists(index=settings.index_rules):
        return []
    response = es.search(index=settings.index_rules, query={"match_all": {}}, size=10_000, sort=[{"name": "asc"}])
    return [Rule.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]


def ensure_index(es: Any, index: str, mappings: dict[str, Any]) -> None:
    if not es.indices.exists(index=index):
        es.options(ignore_status=400).indices.create(index=index, mappings=mappings,
                                                     settings={"number_of_shards": 1, "number_of_replicas": 0})


def _send(settings: Settings, name: str, value: bytes | None) -> None:
    producer = make_producer(settings.kafka)
    try:
        producer.send(settings.topic_rules, key=name.encode(), value=value).get(timeout=30)
    finally:
        producer.close()


class RuleBook:
    """The worker's copy of all rules: `ready` once the topic has been read to its end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.index = RuleIndex(settings.language_set)
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="rulebook")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @staticmethod
    def apply(index: RuleIndex, name: str, value: bytes | None) -> None:
        if value is None:
            index.remove(name)
            return
        try:
            index.add(Rule.model_validate_json(value))
        except Exception as error:  # noqa: BLE001 - a bad record must not stop the follower
            log.error("ignoring unreadable rule %r: %s", name, error)

    @classmethod
    def apply_record(cls, index: RuleIndex, record: Any) -> None:
        reason = undecodable.undecodable_reason(record.headers)
        if reason is not None or record.key is None:
            log.error("ignoring a record of %s at offset %d: %s", record.topic, record.offset, reason or "no key")
            return
        cls.apply(index, record.key.decode(), record.value)

    async def _follow(self) -> None:
        while True:
            # Without a group the consumer is assigned every partition of the topic, once known.
            consumer = AIOKafkaConsumer(self.settings.topic_rules, bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                        group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                                        fetch_max_wait_ms=100)
            try:
                await consumer.start()
                await self._read_all_then_follow(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - reconnect; rules already loaded stay in force
                log.error("following %s failed (%s); reconnecting", self.settings.topic_rules, error)
                await asyncio.sleep(1)
            finally:
                await consumer.stop()

    async def _read_all_then_follow(self, consumer: AIOKafkaConsumer) -> None:
        topic = self.settings.topic_rules
        while not consumer.assignment():  # assigned once the topic's metadata has arrived
            await asyncio.sleep(0.05)
        partitions = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        # (Re)load into a fresh index and swap it in once caught up, so matching never sees half the rules.
        loading = RuleIndex(self.settings.language_set)
        while not await _caught_up(consumer, ends):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    self.apply_record(loading, record)
        self.index = loading
        self.ready.set()
        log.info("%d alert rules loaded from %s", len(self.index), topic)
        while True:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    self.apply_record(self.index, record)
                    log.info("rule %s: %s", "removed" if record.value is None else "updated", record.key)


async def _caught_up(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True
