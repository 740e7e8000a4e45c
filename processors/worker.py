"""The Faust app: thin wiring that batches `articles.raw`, runs the stages off the event loop,
indexes in bulk and routes dead letters.

Nothing may escape the batch loop: an exception inside `take_events()` stops a Faust agent
silently, so every failure becomes a dead letter or a retry.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import faust
from aiokafka.errors import MessageSizeTooLargeError
from elasticsearch import AsyncElasticsearch
from elasticsearch.helpers import async_bulk

from clients import undecodable
from clients.kafka import faust_producer_options
from newsstream.settings import Settings, get_settings
from processors.alerts import make_alert
from processors.index import bulk_actions, ensure_article_index
from processors.pipeline import process_messages
from processors.rulebook import RuleBook, ensure_index
from processors.webhooks import WebhookSender
from schemas import DeadLetter, EnrichedArticle
from schemas.alerts import Alert

log = logging.getLogger("newsstream.worker")

DEAD_LETTER_PAYLOAD_CUT = 64 * 1024


Work = Callable[[list[bytes]], list[EnrichedArticle | DeadLetter]]


def _warm_up() -> None:
    """Loads the language identifier and the NER models once per pool process."""
    process_messages([b'{"title": "Warm-up", "body": "Paris et Berlin. London and Madrid."}'])


def nlp_pool_size(settings: Settings) -> int:
    return settings.nlp_processes or multiprocessing.cpu_count()


class NlpPool:
    """A process pool for the CPU-bound stages. If a child dies (a crash, the OOM killer), the
    pool is rebuilt and the batch retried one message at a time, so a message that kills its
    process becomes a dead letter instead of blocking the stream."""

    def __init__(self, size: int, work: Work = process_messages, warm_up: Callable[[], None] | None = _warm_up) -> None:
        self.size = size
        self._work = work
        self._warm_up = warm_up
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: the parent holds Kafka client threads and an event loop.
        return ProcessPoolExecutor(self.size, mp_context=multiprocessing.get_context("spawn"), initializer=self._warm_up)

    def _rebuild(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new_executor()

    async def _run(self, chunk: list[bytes]) -> list[EnrichedArticle | DeadLetter]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._work, chunk)

    async def process(self, payloads: Sequence[bytes]) -> list[EnrichedArticle | DeadLetter]:
        if not payloads:
            return []
        size = -(-len(payloads) // self.size)
        chunks = [list(payloads[i:i + size]) for i in range(0, len(payloads), size)]
        try:
            parts = await asyncio.gather(*(self._run(chunk) for chunk in chunks))
            return [outcome for part in parts for outcome in part]
        except BrokenProcessPool:
            log.error("an NLP process died; retrying the batch of %d one message at a time", len(payloads))
            self._rebuild()
        outcomes: list[EnrichedArticle | DeadLetter] = []
        for payload in payloads:
            try:
                outcomes += await self._run([payload])
            except BrokenProcessPool:
                self._rebuild()
                outcomes.append(DeadLetter.from_bytes(payload, stage="enrich", error="the NLP process died on it"))
        return outcomes

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


async def index_articles(es: AsyncElasticsearch, index: str, articles: list[EnrichedArticle]) -> dict[str, str]:
    """Bulk-indexes; returns the ids that Elasticsearch refused, with its reason (not retried)."""
    if not articles:
        return {}
    # refresh=True: searchable when the batch is acked, not up to a refresh interval later (p99 at
    # half rate 3.1 s -> 1.0 s in `newsstream bench`; a few small segments a second is cheap).
    _, errors = await async_bulk(es, bulk_actions(articles, index), raise_on_error=False, raise_on_exception=True,
                                 refresh=True)
    refused: dict[str, str] = {}
    for item in errors:  # type: ignore[union-attr]
        detail = next(iter(item.values()))
        refused[detail.get("_id", "")] = str(detail.get("error", detail))
    return refused


ALERTS_MAPPING = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"}, "rule": {"type": "keyword"}, "article_id": {"type": "keyword"},
        "title": {"type": "text"}, "language": {"type": "keyword"}, "matched_terms": {"type": "keyword"},
        "snippet": {"type": "text", "index": False}, "source": {"type": "keyword"},
        "published_at": {"type": "date"}, "matched_at": {"type": "date"},
    },
}


async def record_new_alerts(es: AsyncElasticsearch, index: str, alerts: list[Alert]) -> list[Alert]:
    """Creates alerts by their (rule, article) id; those that already exist were alerted before
    (a replay) and are left out, so each (rule, article) alerts once."""
    if not alerts:
        return []
    actions = ({"_op_type": "create", "_index": index, "_id": a.id, "_source": a.model_dump(mode="json")} for a in alerts)
    # A create by id conflicts with an existing id in real time; refresh=True (not wait_for) only
    # makes an alert listed by the time it is on the topic.
    _, errors = await async_bulk(es, actions, raise_on_error=False, raise_on_exception=True, refresh=True)
    seen_before = {next(iter(e.values()))["_id"] for e in errors if next(iter(e.values())).get("status") == 409}  # type: ignore[union-attr]
    failed = [e for e in errors if next(iter(e.values())).get("status") != 409]  # type: ignore[union-attr]
    if failed:
        raise RuntimeError(f"{len(failed)} alert(s) not stored: {failed[0]}")
    return [alert for alert in alerts if alert.id not in seen_before]


def prepare_indices(settings: Settings) -> None:
    from elasticsearch import Elasticsearch

    key = settings.elasticsearch_api_key
    with Elasticsearch(settings.elasticsearch_url, api_key=key.get_secret_value() if key else None) as es:
        ensure_article_index(es, settings.index_articles)
        ensure_index(es, settings.index_alerts, ALERTS_MAPPING)


class WorkerResources:
    """What the agent needs beyond Kafka, opened on first use (agents may start before any
    startup hook has finished) and closed when the worker shuts down."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = asyncio.Lock()
        self._opened = False

    async def open(self) -> "WorkerResources":
        async with self._lock:
            if not self._opened:
                settings = self.settings
                await with_retries("preparing the indices", lambda: asyncio.to_thread(prepare_indices, settings))
                key = settings.elasticsearch_api_key
                self.es = AsyncElasticsearch(settings.elasticsearch_url, request_timeout=30,
                                             api_key=key.get_secret_value() if key else None)
                self.pool = NlpPool(nlp_pool_size(settings))
                self.rules = RuleBook(settings)
                self.rules.start()
                self.webhooks = WebhookSender()
                self._opened = True
        return self

    async def close(self) -> None:
        if self._opened:
            await self.rules.stop()
            await self.webhooks.close()
            await self.es.close()
            self.pool.close()


def create_app(settings: Settings | None = None) -> faust.App:
    settings = settings or get_settings()
    undecodable.install()
    app = faust.App(
        settings.worker_app_id,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        value_serializer="raw",
        key_serializer="raw",
        topic_replication_factor=1,
        topic_partitions=settings.topic_partitions,
        **faust_producer_options(settings.kafka),
        web_enabled=False,
        datadir=str(settings.state_dir / "faust"),
    )
    raw_topic = app.topic(settings.topic_raw, value_serializer="raw", key_serializer="raw")
    deadletter_topic = app.topic(settings.topic_deadletter, value_serializer="raw", key_serializer="raw")
    alerts_topic = app.topic(settings.topic_alerts, value_serializer="raw", key_serializer="raw")
    resources = WorkerResources(settings)

    @app.on_before_shutdown.connect
    async def _close(app: faust.App, **_: Any) -> None:  # noqa: ARG001
        await resources.close()

    async def send_dead_letter(letter: DeadLetter) -> None:
        """Never raises: transient failures are retried; a letter too large for Kafka goes out
        with its payload cut to DEAD_LETTER_PAYLOAD_CUT bytes, and says so."""
        async def send(value: DeadLetter) -> None:
            await deadletter_topic.send(key=(value.key or "").encode() or None, value=value.model_dump_json().encode())

        try:
            await with_retries("sending a dead letter", lambda: send(letter), give_up_on=MessageSizeTooLargeError)
        except MessageSizeTooLargeError:
            payload = letter.payload
            await with_retries("sending a dead letter", lambda: send(DeadLetter.from_bytes(
                payload[:DEAD_LETTER_PAYLOAD_CUT], stage=letter.stage,
                error=f"{letter.error} (payload cut from {len(payload)} bytes)",
                key=letter.key, topic=letter.topic, partition=letter.partition, offset=letter.offset)))
        log.warning("dead letter from %s at offset %s: %s", letter.stage, letter.offset, letter.error)

    async def emit_alerts(res: WorkerResources, articles: list[EnrichedArticle]) -> int:
        """Matches before the batch is acked: a crash before this point replays the batch."""
        await res.rules.ready.wait()
        index = res.rules.index
        alerts = [make_alert(match, article) for article in articles for match in index.match(article)]
        new = await with_retries("storing alerts", lambda: record_new_alerts(res.es, settings.index_alerts, alerts))
        for alert in new:
            await alerts_topic.send(key=alert.id.encode(), value=alert.model_dump_json().encode())
            webhook = index.webhook_for(alert.rule)
            if webhook:
                res.webhooks.schedule(webhook, alert)
        return len(new)

    async def handle_batch(events: Sequence[faust.types.EventT]) -> None:
        res = await resources.open()
        # A record of a batch the consumer could not decode carries the reason, not an article.
        reasons = [undecodable.undecodable_reason(event.message.headers) for event in events]
        payloads = [event.value if isinstance(event.value, bytes) else bytes(event.value or b"")
                    for event, reason in zip(events, reasons, strict=True) if reason is None]
        enriched = iter(await with_retries("enriching", lambda: res.pool.process(payloads)))
        outcomes = [next(enriched) if reason is None else DeadLetter.from_bytes(b"", stage="decode", error=reason)
                    for reason in reasons]
        articles = [outcome for outcome in outcomes if isinstance(outcome, EnrichedArticle)]
        refused = await with_retries("indexing", lambda: index_articles(res.es, settings.index_articles, articles))
        for event, outcome in zip(events, outcomes, strict=True):
            message = event.message
            where = {"topic": message.topic, "partition": message.partition, "offset": message.offset,
                     "key": message.key.decode("utf-8", "replace") if message.key else None}
            if isinstance(outcome, DeadLetter):
                await send_dead_letter(outcome.model_copy(update=where))
            elif outcome.id in refused:
                await send_dead_letter(DeadLetter.from_bytes(
                    event.value, stage="index", error=refused[outcome.id], **where))
        alerted = await emit_alerts(res, [a for a in articles if a.id not in refused])
        log.info("batch of %d: %d indexed, %d dead letters, %d alerts", len(events), len(articles) - len(refused),
                 len(events) - len(articles) + len(refused), alerted)

    @app.agent(raw_topic)
    async def enrich_articles(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
            try:
                await handle_batch(events)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - an escaping exception would stop the agent silently
                log.exception("batch of %d failed unexpectedly; its events are dead-lettered", len(events))
                for event in events:
                    await send_dead_letter(DeadLetter.from_bytes(
                        bytes(event.value or b""), stage="worker", error=traceback.format_exc(limit=3),
                        topic=event.message.topic, partition=event.message.partition, offset=event.message.offset))

    return app


async def with_retries(
    what: str, attempt: Any, first_delay_s: float = 0.5, max_delay_s: float = 30.0,
    give_up_on: type[BaseException] | tuple[type[BaseException], ...] = (),
) -> Any:
    """Retries until it works: while Elasticsearch or the pool is down the agent stops consuming
    (the batch is not acked) instead of dropping articles or buffering without bound."""
    delay = first_delay_s
    while True:
        try:
            return await attempt()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - anything here is transient or we stall visibly
            if isinstance(error, give_up_on) or isinstance(error.__cause__, give_up_on):
                raise error.__cause__ if isinstance(error.__cause__, give_up_on) else error from None
            log.error("%s failed (%s: %s); retrying in %.1f s", what, type(error).__name__, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)


def run_worker(settings: Settings | None = None, loglevel: str = "info") -> None:
    app = create_app(settings)
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()
