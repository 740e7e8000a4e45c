"""The CPU-bound stages off the event loop: a process pool, each process with the pipeline
configuration the worker was given (pickled to it, never re-read from its environment)."""
from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from processors.config import PipelineConfig
from processors.pipeline import process_messages
from schemas import DeadLetter, EnrichedArticle

log = logging.getLogger("newsstream.worker")

Work = Callable[[list[bytes]], list[EnrichedArticle | DeadLetter]]
WARM_UP = b'{"title": "Warm-up", "body": "Paris et Berlin. London and Madrid."}'


def warm_up(config: PipelineConfig) -> None:
    """Loads the language identifier and the NER models of the warm-up text once per process;
    other languages' models load the first time the process sees them."""
    process_messages([WARM_UP], config)


class NlpPool:
    """A process pool for the CPU-bound stages. If a child dies (a crash, the OOM killer), the
    pool is rebuilt and the batch retried one message at a time, so a message that kills its
    process becomes a dead letter instead of blocking the stream."""

    def __init__(self, size: int, work: Work, initializer: Callable[[], None] | None = None) -> None:
        self.size = size
        self._work = work
        self._initializer = initializer
        self._executor = self._new_executor()

    @classmethod
    def for_pipeline(cls, size: int, config: PipelineConfig) -> NlpPool:
        return cls(size, functools.partial(process_messages, config=config), functools.partial(warm_up, config))

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: the parent holds Kafka client threads and an event loop.
        return ProcessPoolExecutor(self.size, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=self._initializer)

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
