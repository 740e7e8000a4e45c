"""The Faust app: thin wiring that batches `articles.raw`, runs the stages off the event loop,
indexes in bulk and routes dead letters.

Nothing may escape the batch loop: an exception inside `take_events()` stops a Faust agent
silently, so every failure becomes a dead letter or a retry.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import faust
from elasticsearch import AsyncElasticsearch
from elasticsearch.helpers import async_bulk

from newsstream.settings import Settings, get_settings
from processors.index import bulk_actions
from processors.pipeline import process_messages
from schemas import DeadLetter, EnrichedArticle

log = logging.getLogger("newsstream.worker")


def _warm_up() -> None:
    """Loads the language identifier and the NER models once per pool process."""
    process_messages([b'{"title": "Warm-up", "body": "Paris et Berlin. London and Madrid."}'])


def nlp_pool_size(settings: Settings) -> int:
    return settings.nlp_processes or multiprocessing.cpu_count()


class NlpPool:
    """A process pool for the CPU-bound stages; rebuilt if a child dies."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: the parent holds Kafka client threads and an event loop.
        return ProcessPoolExecutor(self.size, mp_context=multiprocessing.get_context("spawn"), initializer=_warm_up)

    async def process(self, payloads: Sequence[bytes]) -> list[EnrichedArticle | DeadLetter]:
        loop = asyncio.get_running_loop()
        chunk = -(-len(payloads) // self.size)
        chunks = [list(payloads[i:i + chunk]) for i in range(0, len(payloads), chunk)]
        try:
            parts = await asyncio.gather(*(loop.run_in_executor(self._executor, process_messages, c) for c in chunks))
        except BrokenProcessPool:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            raise
        return [outcome for part in parts for outcome in part]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


async def index_articles(es: AsyncElasticsearch, index: str, articles: list[EnrichedArticle]) -> dict[str, str]:
    """Bulk-indexes; returns the ids that Elasticsearch refused, with its reason (not retried)."""
    if not articles:
        return {}
    _, errors = await async_bulk(es, bulk_actions(articles, index), raise_on_error=False, raise_on_exception=True)
    refused: dict[str, str] = {}
    for item in errors:  # type: ignore[union-attr]
        detail = next(iter(item.values()))
        refused[detail.get("_id", "")] = str(detail.get("error", detail))
    return refused


def create_app(settings: Settings | None = None) -> faust.App:
    settings = settings or get_settings()
    app = faust.App(
        settings.worker_app_id,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        value_serializer="raw",
        key_serializer="raw",
        topic_replication_factor=1,
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,  # topics are created by `newsstream stack up` with their partition counts
        producer_acks=-1,
        web_enabled=False,
        datadir=str(settings.state_dir / "faust"),
    )
    raw_topic = app.topic(settings.topic_raw, value_serializer="raw", key_serializer="raw")
    deadletter_topic = app.topic(settings.topic_deadletter, value_serializer="raw", key_serializer="raw")
    state: dict[str, Any] = {}

    @app.on_startup.connect
    async def _open(app: faust.App, **_: Any) -> None:  # noqa: ARG001
        state["pool"] = NlpPool(nlp_pool_size(settings))
        state["es"] = AsyncElasticsearch(
            settings.elasticsearch_url,
            api_key=settings.elasticsearch_api_key.get_secret_value() if settings.elasticsearch_api_key else None,
            request_timeout=30,
        )

    @app.on_shutdown.connect
    async def _close(app: faust.App, **_: Any) -> None:  # noqa: ARG001
        if "es" in state:
            await state["es"].close()
        if "pool" in state:
            state["pool"].close()

    async def send_dead_letter(letter: DeadLetter) -> None:
        await deadletter_topic.send(key=(letter.key or "").encode() or None, value=letter.model_dump_json().encode())
        log.warning("dead letter from %s at offset %s: %s", letter.stage, letter.offset, letter.error)

    async def handle_batch(events: Sequence[faust.types.EventT]) -> None:
        payloads = [event.value if isinstance(event.value, bytes) else bytes(event.value or b"") for event in events]
        outcomes = await with_retries("enrich", lambda: state["pool"].process(payloads))
        articles = [outcome for outcome in outcomes if isinstance(outcome, EnrichedArticle)]
        refused = await with_retries("index", lambda: index_articles(state["es"], settings.index_articles, articles))
        for event, outcome in zip(events, outcomes, strict=True):
            message = event.message
            where = {"topic": message.topic, "partition": message.partition, "offset": message.offset,
                     "key": message.key.decode("utf-8", "replace") if message.key else None}
            if isinstance(outcome, DeadLetter):
                await send_dead_letter(outcome.model_copy(update=where))
            elif outcome.id in refused:
                await send_dead_letter(DeadLetter.from_bytes(
                    event.value, stage="index", error=refused[outcome.id], **where))
        log.info("batch of %d: %d indexed, %d dead letters", len(events), len(articles) - len(refused),
                 len(events) - len(articles) + len(refused))

    @app.agent(raw_topic)
    async def enrich_articles(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
            await handle_batch(events)

    return app


async def with_retries(what: str, attempt: Any, first_delay_s: float = 0.5, max_delay_s: float = 30.0) -> Any:
    """Retries until it works: while Elasticsearch or the pool is down the agent stops consuming
    (the batch is not acked) instead of dropping articles or buffering without bound."""
    delay = first_delay_s
    while True:
        try:
            return await attempt()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - anything here is transient or we stall visibly
            log.error("%s failed (%s: %s); retrying in %.1f s", what, type(error).__name__, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)


def run_worker(settings: Settings | None = None, loglevel: str = "info") -> None:
    app = create_app(settings)
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()
