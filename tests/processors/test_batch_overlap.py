"""Overlapped batches: the next batch is enriched while the last one is written, yet batches are
written and acknowledged one at a time, in order, each only after it is indexed."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from processors.batch import Acknowledge, BatchHandler, BatchOutcome, OverlappedBatches, Record
from schemas import DeadLetter, EnrichedArticle
from tests.processors.test_batch import Articles, Service, enrich, record


@dataclass
class Gates:
    """An event per batch (named by its first offset) that its enrichment or indexing waits on."""

    opened: dict[int, asyncio.Event] = field(default_factory=dict)

    def gate(self, offset: int) -> asyncio.Event:
        return self.opened.setdefault(offset, asyncio.Event())

    def open(self, offset: int) -> None:
        self.gate(offset).set()


@dataclass
class GatedArticles(Articles):
    """The index, writing a batch only once its gate is open; `started` says which batch is writing."""

    gates: Gates = field(default_factory=Gates)
    started: list[str] = field(default_factory=list)

    async def index(self, articles: list[EnrichedArticle]) -> dict[str, str]:
        self.started.append(articles[0].id)
        await self.gates.gate(int(articles[0].id.removeprefix("a"))).wait()
        return await super().index(articles)


@dataclass
class Pipeline:
    """A service whose enrichment waits on `enrich_gates`, its indexing on the articles' gates, and
    the acknowledgements it was given, in order."""

    service: Service = field(default_factory=lambda: Service(articles=GatedArticles()))
    enrich_gates: Gates = field(default_factory=Gates)
    enriching: list[int] = field(default_factory=list)
    enriched: list[int] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)
    dead_lettered: list[tuple[list[int], str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        handler = self.service.handler()

        async def gated_enrich(payloads: Sequence[bytes]) -> list[EnrichedArticle | DeadLetter]:
            first = offset_of(payloads[0])
            self.enriching.append(first)
            await self.enrich_gates.gate(first).wait()
            self.enriched.append(first)
            return await enrich(payloads)

        handler.enrich = gated_enrich
        self.handler = handler

        async def opened() -> BatchHandler:
            return handler

        async def dead_letter_batch(records: Sequence[Record], error: str) -> None:
            self.dead_lettered.append(([r.offset for r in records], error))  # type: ignore[misc]

        self.batches = OverlappedBatches(opened, dead_letter_batch)

    @property
    def articles(self) -> GatedArticles:
        return self.service.articles  # type: ignore[return-value]

    def acknowledge(self, records: Sequence[Record]) -> Acknowledge:
        async def acknowledged() -> None:
            self.acked.extend(r.offset for r in records)  # type: ignore[misc]
        return acknowledged


def offset_of(payload: bytes) -> int:
    return int(orjson.loads(payload)["id"].removeprefix("a"))


async def until(condition: Callable[[], bool]) -> None:
    """Lets the other tasks run until `condition` holds: turns of the event loop, not a clock."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


def batch(first: int, size: int = 2) -> list[Record]:
    return [record(offset) for offset in range(first, first + size)]


def test_the_next_batch_is_enriched_while_the_last_one_is_written() -> None:
    pipeline = Pipeline()

    async def run() -> None:
        pipeline.enrich_gates.open(0)
        pipeline.enrich_gates.open(2)
        await pipeline.batches.submit(batch(0), pipeline.acknowledge(batch(0)))
        second = asyncio.create_task(pipeline.batches.submit(batch(2), pipeline.acknowledge(batch(2))))
        await until(lambda: pipeline.articles.started == ["a0"] and pipeline.enriching == [0, 2])
        # Batch 0 is being indexed and batch 2 enriched; submitting batch 2 waits for batch 0.
        assert pipeline.acked == [] and not second.done()
        pipeline.articles.gates.open(0)
        await second
        assert pipeline.acked == [0, 1] and pipeline.articles.stored == ["a0", "a1"]
        pipeline.articles.gates.open(2)
        await until(lambda: pipeline.acked == [0, 1, 2, 3])
        assert pipeline.acked == [0, 1, 2, 3] and pipeline.articles.stored == ["a0", "a1", "a2", "a3"]

    asyncio.run(run())


def test_a_batch_enriched_first_is_still_written_and_acknowledged_after_the_one_before_it() -> None:
    pipeline = Pipeline()
    for offset in (0, 2):
        pipeline.articles.gates.open(offset)

    async def run() -> None:
        await pipeline.batches.submit(batch(0), pipeline.acknowledge(batch(0)))
        second = asyncio.create_task(pipeline.batches.submit(batch(2), pipeline.acknowledge(batch(2))))
        await until(lambda: pipeline.enriching == [0, 2])
        pipeline.enrich_gates.open(2)  # the later batch's enrichment ends first
        await until(lambda: pipeline.enriched == [2])
        assert pipeline.articles.started == [] and pipeline.acked == []
        pipeline.enrich_gates.open(0)
        await second
        await until(lambda: pipeline.acked == [0, 1, 2, 3])

    asyncio.run(run())
    assert pipeline.articles.started == ["a0", "a2"]
    assert pipeline.articles.stored == ["a0", "a1", "a2", "a3"] and pipeline.acked == [0, 1, 2, 3]


def test_a_batch_the_handler_raises_on_is_dead_lettered_and_acknowledged_in_its_turn() -> None:
    pipeline = Pipeline()
    for offset in (0, 2, 4):
        pipeline.enrich_gates.open(offset)
        pipeline.articles.gates.open(offset)
    real_write = pipeline.handler.write

    async def write(records: Sequence[Record], results: list[EnrichedArticle | DeadLetter]) -> BatchOutcome:
        if records[0].offset == 2:
            raise KeyError("a bug")
        return await real_write(records, results)

    pipeline.handler.write = write  # type: ignore[method-assign]

    async def run() -> None:
        for first in (0, 2, 4):
            await pipeline.batches.submit(batch(first), pipeline.acknowledge(batch(first)))
        await until(lambda: len(pipeline.acked) == 6)

    asyncio.run(run())
    assert pipeline.articles.stored == ["a0", "a1", "a4", "a5"]
    ((offsets, error),) = pipeline.dead_lettered
    assert offsets == [2, 3] and "KeyError: 'a bug'" in error
    assert pipeline.acked == [0, 1, 2, 3, 4, 5]


def test_stopping_cancels_the_batches_in_flight_and_acknowledges_none_of_them() -> None:
    pipeline = Pipeline()
    pipeline.enrich_gates.open(0)
    pipeline.enrich_gates.open(2)

    async def run() -> None:
        await pipeline.batches.submit(batch(0), pipeline.acknowledge(batch(0)))
        second = asyncio.create_task(pipeline.batches.submit(batch(2), pipeline.acknowledge(batch(2))))
        await until(lambda: pipeline.articles.started == ["a0"] and pipeline.enriching == [0, 2])
        await pipeline.batches.stop()
        await asyncio.gather(second, return_exceptions=True)

    asyncio.run(run())
    assert pipeline.acked == [] and pipeline.articles.stored == [] and pipeline.dead_lettered == []
