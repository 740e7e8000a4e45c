"""Alert rules: durable in a compacted Kafka topic keyed by rule name (a null value deletes), the
one source of truth: every worker reads it in full at start and then follows it, and listings
read it too, so what is listed is what the workers apply."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from clients import undecodable
from clients.kafka import CompactedTable, KafkaClientConfig, make_producer
from clients.outbound import OutboundPolicy, check_url
from clients.redact import redact_path, redact_url
from processors.alerts import RuleIndex, compile_query
from schemas.alerts import Channel, Rule

log = logging.getLogger("newsstream.rules")


@dataclass(frozen=True)
class RulesConfig:
    kafka: KafkaClientConfig
    topic: str  # compacted, keyed by rule name
    languages: tuple[str, ...]
    outbound: OutboundPolicy  # where delivery channels may point


class InvalidRule(ValueError):
    """A rule refused before anything is published; the text says why."""


def publish_rule(config: RulesConfig, rule: Rule) -> None:
    """Validates everything first (the query parses, the webhook is a permitted address; the
    model's own limits hold already), then publishes the rule once, to the topic. Raises
    InvalidRuleQuery or InvalidRule; nothing is written then."""
    compile_query(rule.query, config.languages)
    # Mail goes to the operator's mail server (NEWSSTREAM_SMTP_HOST), checked when it is used.
    for channel in (channel for channel in rule.channels if channel.kind != "email"):
        try:
            check_url(channel.url, config.outbound)
        except ValueError as refused:
            raise InvalidRule(f"{channel.kind}: {refused}") from None
    _send(config, rule.name, rule.model_dump_json().encode())


def shown_target(channel: Channel) -> str:
    """A channel's URL as listings and the delivery log show it: a webhook without userinfo, query
    or fragment (rules saved before userinfo was refused may still carry some), a chat webhook
    without its path (the path of a Slack or Mattermost incoming webhook is its secret)."""
    if channel.kind == "email":
        return channel.address
    return redact_path(channel.url) if channel.kind == "slack" else redact_url(channel.url)


def shown(rule: Rule) -> Rule:
    """A rule as listings show it: its channels' URLs as `shown_target` gives them."""
    return rule.model_copy(update={channel.kind: shown_target(channel) for channel in rule.channels
                                   if channel.kind != "email"})


def list_rules(config: RulesConfig) -> list[Rule]:
    """The rules in force, by name, read from the topic the workers follow."""
    rules = []
    for name, value in sorted(CompactedTable(config.kafka, config.topic).read_all().items()):
        try:
            rules.append(Rule.model_validate_json(value))
        except ValueError as error:
            log.error("ignoring unreadable rule %r: %s", name, error)
    return rules


def delete_rule(config: RulesConfig, name: str) -> bool:
    """Publishes the removal of a rule that exists; False (and nothing sent) when none has the name."""
    if name not in CompactedTable(config.kafka, config.topic).read_all():
        return False
    _send(config, name, None)  # the tombstone: compaction forgets the rule, followers drop it
    return True


def _send(config: RulesConfig, name: str, value: bytes | None) -> None:
    producer = make_producer(config.kafka)
    try:
        producer.send(config.topic, key=name.encode(), value=value).get(timeout=30)
    finally:
        producer.close()


class RuleBook:
    """The worker's copy of all rules: `ready` once the topic has been read to its end."""

    def __init__(self, config: RulesConfig) -> None:
        self.config = config
        self.index = RuleIndex(config.languages)
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
            consumer = AIOKafkaConsumer(self.config.topic, bootstrap_servers=self.config.kafka.bootstrap_servers,
                                        group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                                        fetch_max_wait_ms=100)
            try:
                await consumer.start()
                await self._read_all_then_follow(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - reconnect; rules already loaded stay in force
                log.error("following %s failed (%s); reconnecting", self.config.topic, error)
                await asyncio.sleep(1)
            finally:
                await consumer.stop()

    async def _read_all_then_follow(self, consumer: AIOKafkaConsumer) -> None:
        topic = self.config.topic
        while not consumer.assignment():  # assigned once the topic's metadata has arrived
            await asyncio.sleep(0.05)
        partitions = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        # (Re)load into a fresh index and swap it in once caught up, so matching never sees half the rules.
        loading = RuleIndex(self.config.languages)
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
