"""The Faust app: thin wiring that batches `articles.raw`, hands the batches to the `BatchHandler`
(processors/batch.py) with the real sinks, the next one enriched while the last one is written
(`OverlappedBatches`), and acknowledges each once it is written.

Nothing may escape the batch loop: an exception inside `take_events()` stops a Faust agent
silently, so every failure becomes a dead letter or a retry.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import faust
from aiokafka.errors import MessageSizeTooLargeError
from elasticsearch import AsyncElasticsearch
from elasticsearch import ConflictError
from elasticsearch.helpers import async_bulk, async_scan

from clients import undecodable
from clients.elasticsearch import ensure_index, make_async_client, make_client
from clients.kafka import faust_producer_options
from clients.redact import install_log_redaction
from newsstream.settings import Settings
from processors.alerts import PENDING_LEASE, AlertPending, Pending, folded, pending_fields, pending_of, publication
from processors.batch import BatchHandler, OverlappedBatches, Record, with_retries
from processors.config import StoryConfig
from processors.index import bulk_actions, entity_name_actions, entity_names
from processors.linking import MAX_CORRECTIONS, Corrections
from processors.nlp_pool import NlpPool
from processors.rulebook import RuleBook
from processors.stories import lookup_query
from processors.delivery import Deliverer, HeldDelivery
from schemas import DeadLetter, EnrichedArticle
from schemas.alerts import Alert, Delivery, Notification
from schemas.stories import StoryMerge, StorySignature

log = logging.getLogger("newsstream.worker")

DEAD_LETTER_PAYLOAD_CUT = 64 * 1024


class ElasticsearchArticles:
    """Articles by id, and the spellings of their entities into the entities index."""

    # Spellings this worker wrote lately: the same names recur in every batch, and a create that
    # conflicts still costs a round of the bulk request.
    RECENT_NAMES = 100_000

    def __init__(self, es: AsyncElasticsearch, index: str, entities_index: str) -> None:
        self.es, self.name, self.entities_index = es, index, entities_index
        self._recent: OrderedDict[str, None] = OrderedDict()

    async def index(self, articles: list[EnrichedArticle]) -> dict[str, str]:
        # refresh=True: searchable when the batch is acked, not up to a refresh interval later (p99 at
        # half rate 3.1 s -> 1.0 s in `newsstream bench`; a few small segments a second is cheap).
        _, errors = await async_bulk(self.es, bulk_actions(articles, self.name), raise_on_error=False,
                                     raise_on_exception=True, refresh=True)
        refused: dict[str, str] = {}
        for item in errors:  # type: ignore[union-attr]
            detail = next(iter(item.values()))
            refused[detail.get("_id", "")] = str(detail.get("error", detail))
        await self._record_names([article for article in articles if article.id not in refused])
        return refused

    async def _record_names(self, articles: list[EnrichedArticle]) -> None:
        """Derived data, rebuilt from the articles by `newsstream entities rebuild`: a failure is
        logged, and the articles stay indexed."""
        names = {name.id: name for article in articles for name in entity_names(article)
                 if name.id not in self._recent}
        if not names:
            return
        try:
            _, errors = await async_bulk(self.es, entity_name_actions(names.values(), self.entities_index),
                                         raise_on_error=False, raise_on_exception=True)
        except Exception as error:  # noqa: BLE001 - see the docstring
            log.warning("entity names not recorded (%s: %s)", type(error).__name__, error)
            return
        failed = [detail for item in errors for detail in item.values()  # type: ignore[union-attr]
                  if detail.get("status") != 409]
        if failed:
            log.warning("%d entity name(s) not recorded: %s", len(failed), failed[0].get("error"))
        for name_id in names.keys() - {detail.get("_id") for detail in failed}:
            self._recent[name_id] = None
        while len(self._recent) > self.RECENT_NAMES:
            self._recent.popitem(last=False)


class ElasticsearchCorrections:
    """The entity corrections index, read again once `refresh_s` has passed since the last read."""

    def __init__(self, es: AsyncElasticsearch, index: str, refresh_s: float) -> None:
        self.es, self.name, self.refresh_s = es, index, refresh_s
        self._corrections = Corrections()
        self._read_at: float | None = None

    async def current(self) -> Corrections:
        now = time.monotonic()
        if self._read_at is None or now - self._read_at >= self.refresh_s:
            self._read_at = now
            try:
                response = await self.es.search(index=self.name, size=MAX_CORRECTIONS, query={"match_all": {}})
            except Exception as error:  # noqa: BLE001 - keep applying the corrections last read
                log.warning("entity corrections not read (%s: %s)", type(error).__name__, error)
            else:
                self._corrections = Corrections.from_search(response)
        return self._corrections


class ElasticsearchAlerts:
    """Alerts by (rule, story) id, each stored with a pending mark (`pending_owner`,
    `pending_since`) until it is on the topic: the outbox of `BatchHandler.emit_alerts`."""

    # Tries of one read-add-write of an alert that other workers keep changing meanwhile.
    FOLD_ATTEMPTS = 10

    def __init__(self, es: AsyncElasticsearch, index: str, lease: timedelta = PENDING_LEASE,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.es, self.name, self.lease, self.clock = es, index, lease, clock
        # A restarted worker is another owner: what it left pending is claimed after the lease.
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    async def record(self, alerts: list[Alert]) -> list[Alert]:
        """Creates alerts by their (rule, story) id, pending; one that exists already (the story
        alerted before, or a replay) gets the new articles added, and is returned only when it is
        still pending and this worker is the one to publish it."""
        mark = Pending(self.owner, self.clock())
        actions = ({"_op_type": "create", "_index": self.name, "_id": a.id, "_source": {**a.model_dump(mode="json"), **pending_fields(mark)}}
                   for a in alerts)
        # A create by id conflicts with an existing id in real time; refresh=True (not wait_for) only
        # makes an alert listed by the time it is on the topic.
        _, errors = await async_bulk(self.es, actions, raise_on_error=False, raise_on_exception=True, refresh=True)
        details = [next(iter(error.values())) for error in errors]  # type: ignore[union-attr]
        failed = [detail for detail in details if detail.get("status") != 409]
        if failed:
            raise RuntimeError(f"{len(failed)} alert(s) not stored: {failed[0]}")
        seen_before = {detail["_id"] for detail in details}
        to_publish = [alert for alert in alerts if alert.id not in seen_before]
        return to_publish + await self._fold([alert for alert in alerts if alert.id in seen_before])

    async def _fold(self, later: list[Alert]) -> list[Alert]:
        """Adds each of `later`'s articles to its stored alert: read them all, add, write back those
        nobody wrote in between (one conditional bulk; no scripts on a minimal cluster), and again
        for the others. Returns the stored alerts that are pending and that this worker is to
        publish (claimed, if another worker left them)."""
        remaining = {alert.id: alert for alert in later}
        to_publish: list[Alert] = []
        for _ in range(self.FOLD_ATTEMPTS):
            if not remaining:
                return to_publish
            stored = await self.es.mget(index=self.name, ids=list(remaining))
            written: dict[str, tuple[Alert, str]] = {}
            actions = []
            for doc in stored["docs"]:
                pending = pending_of(doc["_source"])
                decision = publication(pending, self.owner, self.clock(), self.lease)
                if decision == "wait":
                    raise AlertPending(f"alert {doc['_id']} is being published by {pending.owner} (stored "  # type: ignore[union-attr]
                                       f"{pending.since.isoformat()}); waiting for it, at most {self.lease}")  # type: ignore[union-attr]
                current = Alert.model_validate(doc["_source"])
                added = folded(current, remaining[doc["_id"]])
                if decision == "claim":
                    pending = Pending(self.owner, self.clock())
                elif added is None:  # nothing new (a replay): nothing to write
                    del remaining[doc["_id"]]
                    to_publish += [current] if decision == "mine" else []
                    continue
                alert = added or current
                written[doc["_id"]] = (alert, decision)
                actions.append({"_op_type": "index", "_index": self.name, "_id": doc["_id"],
                                "_source": {**alert.model_dump(mode="json"), **pending_fields(pending)},
                                "if_seq_no": doc["_seq_no"], "if_primary_term": doc["_primary_term"]})
            if not actions:
                continue
            _, errors = await async_bulk(self.es, actions, raise_on_error=False, raise_on_exception=True, refresh=True)
            details = [next(iter(error.values())) for error in errors]  # type: ignore[union-attr]
            if failed := [detail for detail in details if detail.get("status") != 409]:
                raise RuntimeError(f"{len(failed)} alert(s) not updated: {failed[0]}")
            changed_meanwhile = {detail["_id"] for detail in details}  # read again
            for alert_id, (alert, decision) in written.items():
                if alert_id not in changed_meanwhile:
                    del remaining[alert_id]
                    to_publish += [alert] if decision in ("mine", "claim") else []
        if remaining:
            raise RuntimeError(f"{len(remaining)} alert(s) changed {self.FOLD_ATTEMPTS} times while adding articles "
                               f"to them, e.g. {next(iter(remaining))}")
        return to_publish

    async def published(self, alerts: list[Alert]) -> None:
        actions = ({"_op_type": "update", "_index": self.name, "_id": a.id,
                    "doc": pending_fields(None)} for a in alerts)
        await async_bulk(self.es, actions, raise_on_exception=True)


class ElasticsearchDeliveries:
    """The delivery log: one document per (alert, channel), created before the first attempt;
    held ones are taken with optimistic writes; digests and throttled messages in their own index."""

    # What one digest or throttled message takes at most; the rest go in the next.
    HELD_PER_MESSAGE = 1000

    def __init__(self, es: AsyncElasticsearch, index: str, notifications_index: str, alerts_index: str) -> None:
        self.es, self.name, self.notifications, self.alerts_index = es, index, notifications_index, alerts_index

    async def claim(self, delivery: Delivery) -> bool:
        return await self._create(self.name, delivery)

    async def update(self, delivery: Delivery) -> None:
        await self.es.index(index=self.name, id=delivery.id, document=delivery.model_dump(mode="json"))

    async def held(self, rule: str, channel: str, before: datetime | None) -> list[HeldDelivery]:
        filters: list[dict[str, Any]] = [{"term": {"rule": rule}}, {"term": {"channel_id": channel}},
                                         {"term": {"status": "held"}}]
        if before is not None:
            filters.append({"range": {"matched_at": {"lt": before.isoformat()}}})
        # A held delivery was created moments ago maybe: refresh so the search sees it.
        await self.es.indices.refresh(index=self.name)
        response = await self.es.search(index=self.name, query={"bool": {"filter": filters}}, seq_no_primary_term=True,
                                        sort=[{"matched_at": "asc"}], size=self.HELD_PER_MESSAGE)
        return [HeldDelivery(Delivery.model_validate(hit["_source"]), (hit["_seq_no"], hit["_primary_term"]))
                for hit in response["hits"]["hits"]]

    async def take(self, held: HeldDelivery) -> bool:
        seq_no, primary_term = held.version
        taken = held.delivery.model_copy(update={"status": "sending", "updated_at": datetime.now(timezone.utc)})
        try:
            await self.es.index(index=self.name, id=taken.id, document=taken.model_dump(mode="json"),
                                if_seq_no=seq_no, if_primary_term=primary_term)
        except ConflictError:
            return False
        return True

    async def held_channels(self) -> list[tuple[str, str, datetime]]:
        if not await self.es.indices.exists(index=self.name):
            return []
        await self.es.indices.refresh(index=self.name)  # once per tick: what was held just now counts
        groups, after = [], None
        while True:  # a composite aggregation pages through every (rule, channel)
            composite: dict[str, Any] = {"size": 1000, "sources": [{"rule": {"terms": {"field": "rule"}}},
                                                                  {"channel": {"terms": {"field": "channel_id"}}}]}
            if after:
                composite["after"] = after
            response = await self.es.search(index=self.name, size=0, query={"term": {"status": "held"}}, aggs={
                "held": {"composite": composite, "aggs": {"oldest": {"min": {"field": "matched_at"}}}}})
            buckets = response["aggregations"]["held"]["buckets"]
            groups += [(b["key"]["rule"], b["key"]["channel"],
                        datetime.fromtimestamp(b["oldest"]["value"] / 1000, timezone.utc)) for b in buckets]
            after = response["aggregations"]["held"].get("after_key")
            if not buckets or after is None:
                return groups

    async def claim_notification(self, notification: Notification) -> bool:
        return await self._create(self.notifications, notification)

    async def update_notification(self, notification: Notification) -> None:
        await self.es.index(index=self.notifications, id=notification.id, document=notification.model_dump(mode="json"))

    async def alerts(self, ids: list[str]) -> list[Alert]:
        found = await self.es.mget(index=self.alerts_index, ids=ids)
        return [Alert.model_validate(doc["_source"]) for doc in found["docs"] if doc.get("found")]

    async def _create(self, index: str, document: Delivery | Notification) -> bool:
        try:
            await self.es.create(index=index, id=document.id, document=document.model_dump(mode="json"))
        except ConflictError:
            return False
        return True


class ElasticsearchStories:
    """Story signatures in Elasticsearch: one msearch finds a batch's candidates, so the stage's
    state is shared by every worker and survives restarts."""

    def __init__(self, es: AsyncElasticsearch, index: str, articles_index: str, config: StoryConfig) -> None:
        self.es, self.name, self.articles_index, self.config = es, index, articles_index, config

    async def candidates(self, signatures: list[StorySignature]) -> list[list[StorySignature]]:
        searches: list[dict[str, Any]] = []
        for signature in signatures:
            searches += [{"index": self.name}, lookup_query(signature, self.config)]
        # Side by side: the replay check does not wait for the search, nor the search for it.
        own, response = await asyncio.gather(self.es.mget(index=self.name, ids=[s.id for s in signatures]),
                                             self.es.msearch(searches=searches))
        found = []
        for stored, result in zip(own["docs"], response["responses"], strict=True):
            if "error" in result:
                raise RuntimeError(f"story lookup failed: {result['error']}")
            hits = [StorySignature.model_validate(hit["_source"]) for hit in result["hits"]["hits"]]
            own_decision = [StorySignature.model_validate(stored["_source"])] if stored.get("found") else []
            found.append(own_decision + hits)
        return found

    async def record(self, signatures: list[StorySignature]) -> None:
        actions = ({"_op_type": "index", "_index": self.name, "_id": s.id, "_source": s.model_dump(mode="json")}
                   for s in signatures)
        # refresh=True: the next batch, on any worker, finds these.
        _, errors = await async_bulk(self.es, actions, raise_on_error=False, raise_on_exception=True, refresh=True)
        if errors:
            raise RuntimeError(f"{len(errors)} story signature(s) not stored: {errors[0]}")  # type: ignore[index]

    async def merge(self, merges: list[StoryMerge]) -> None:
        """Relabels the merged stories' signatures and articles (partial updates: no scripts)."""
        for merge in merges:
            for index in (self.name, self.articles_index):
                ids = [hit["_id"] async for hit in async_scan(
                    self.es, index=index, query={"query": {"term": {"story_id": merge.story_id}}}, _source=False)]
                actions = ({"_op_type": "update", "_index": index, "_id": doc_id, "doc": {"story_id": merge.into}}
                           for doc_id in ids)
                await async_bulk(self.es, actions, raise_on_error=True, refresh=True)


class FaustTopic:
    def __init__(self, topic: faust.TopicT) -> None:
        self.topic = topic

    async def send(self, key: bytes | None, value: bytes) -> None:
        await self.topic.send(key=key, value=value)


class DeadLetterTopic(FaustTopic):
    async def send(self, key: bytes | None, value: bytes) -> None:
        """A letter too large for Kafka goes out with its payload cut, and says so."""
        try:
            await super().send(key, value)
        except MessageSizeTooLargeError:
            letter = DeadLetter.model_validate_json(value)
            payload = letter.payload
            cut = DeadLetter.from_bytes(payload[:DEAD_LETTER_PAYLOAD_CUT], stage=letter.stage,
                                        error=f"{letter.error} (payload cut from {len(payload)} bytes)",
                                        key=letter.key, topic=letter.topic, partition=letter.partition,
                                        offset=letter.offset)
            await super().send(key, cut.model_dump_json().encode())


def nlp_pool_size(settings: Settings) -> int:
    return settings.nlp_processes or multiprocessing.cpu_count()


def prepare_indices(settings: Settings) -> None:
    with make_client(settings.elasticsearch) as es:
        for name, spec in settings.indices.items():
            ensure_index(es, name, spec)


class WorkerResources:
    """What the agent needs beyond Kafka, opened on first use (agents may start before any
    startup hook has finished) and closed when the worker shuts down."""

    def __init__(self, settings: Settings, deadletter_topic: faust.TopicT, alerts_topic: faust.TopicT) -> None:
        self.settings = settings
        self._topics = (deadletter_topic, alerts_topic)
        self._lock = asyncio.Lock()
        self._opened = False

    async def open(self) -> BatchHandler:
        async with self._lock:
            if not self._opened:
                settings = self.settings
                await with_retries("preparing the indices", lambda: asyncio.to_thread(prepare_indices, settings))
                self.es = make_async_client(settings.elasticsearch)
                self.pool = NlpPool.for_pipeline(nlp_pool_size(settings), settings.pipeline)
                self.rules = RuleBook(settings.rules)
                self.rules.start()
                secret = settings.webhook_secret
                deliveries = ElasticsearchDeliveries(self.es, settings.index_alert_deliveries,
                                                     settings.index_alert_notifications, settings.index_alerts)
                self.deliverer = Deliverer(settings.outbound, deliveries, secret and secret.get_secret_value(),
                                           settings.mail)
                self.digests = asyncio.create_task(self._send_digests(), name="digests")
                deadletter_topic, alerts_topic = self._topics
                self.handler = BatchHandler(
                    enrich=self.pool.process, articles=ElasticsearchArticles(
                        self.es, settings.index_articles, settings.index_entities),
                    alerts=ElasticsearchAlerts(self.es, settings.index_alerts),
                    dead_letters=DeadLetterTopic(deadletter_topic), alert_topic=FaustTopic(alerts_topic),
                    rules=self.rules, notifier=self.deliverer,
                    stories=ElasticsearchStories(self.es, settings.index_story_signatures, settings.index_articles,
                                                 settings.stories),
                    story_config=settings.stories, corrections=ElasticsearchCorrections(
                        self.es, settings.index_entity_corrections, settings.entity_corrections_refresh_s))
                self._opened = True
        return self.handler

    async def _send_digests(self) -> None:
        await self.rules.ready.wait()
        # Looked up at each tick: the rule book swaps in a new index when it reloads.
        await self.deliverer.run(lambda name: self.rules.index.get(name), self.settings.digest_tick_s)

    async def close(self) -> None:
        if self._opened:
            self.digests.cancel()
            await asyncio.gather(self.digests, return_exceptions=True)
            await self.rules.stop()
            await self.deliverer.close()
            await self.es.close()
            self.pool.close()


def record_of(event: faust.types.EventT) -> Record:
    message = event.message
    return Record(value=event.value if isinstance(event.value, bytes) else bytes(event.value or b""),
                  topic=message.topic, partition=message.partition, offset=message.offset, key=message.key,
                  undecodable=undecodable.undecodable_reason(message.headers))


async def acknowledge(stream: faust.StreamT, events: Sequence[faust.types.EventT]) -> None:
    for event in events:
        await stream.ack(event)


def create_app(settings: Settings) -> faust.App:
    undecodable.install()
    install_log_redaction()  # connection errors quote client URLs, with their credentials
    app = faust.App(
        settings.worker_app_id,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        value_serializer="raw",
        key_serializer="raw",
        # Faust's own topics (the assignor's leader topic) as replicated as ours; it needs a count, not
        # the broker's default (-1).
        topic_replication_factor=max(settings.topic_replication_factor, 1),
        topic_partitions=settings.topic_partitions,
        **faust_producer_options(settings.kafka),
        web_enabled=False,
        datadir=str(settings.state_dir / "faust"),
    )
    raw_topic = app.topic(settings.topic_raw, value_serializer="raw", key_serializer="raw")
    deadletter_topic = app.topic(settings.topic_deadletter, value_serializer="raw", key_serializer="raw")
    alerts_topic = app.topic(settings.topic_alerts, value_serializer="raw", key_serializer="raw")
    resources = WorkerResources(settings, deadletter_topic, alerts_topic)

    async def dead_letter_batch(records: Sequence[Record], error: str) -> None:
        for record in records:
            letter = DeadLetter.from_bytes(record.value, stage="worker", error=error, **record.where)
            await with_retries("sending a dead letter", lambda letter=letter, record=record: DeadLetterTopic(
                deadletter_topic).send(record.key, letter.model_dump_json().encode()))

    batches = OverlappedBatches(resources.open, dead_letter_batch)

    @app.on_before_shutdown.connect
    async def _close(app: faust.App, **_: Any) -> None:  # noqa: ARG001
        await batches.stop()
        await resources.close()

    @app.agent(raw_topic)
    async def enrich_articles(stream: faust.StreamT) -> None:
        try:
            async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
                # take_events acks a batch as soon as the next is taken; the extra reference holds
                # each offset uncommitted until its batch is written.
                for event in events:
                    event.message.incref()
                await batches.submit([record_of(event) for event in events], functools.partial(acknowledge, stream, events))
        finally:
            await batches.stop()

    return app


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    faust.Worker(create_app(settings), loglevel=loglevel).execute_from_commandline()
