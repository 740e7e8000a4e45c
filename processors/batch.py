"""One batch of `articles.raw` records through the service: enriched, indexed, dead letters and
alerts out. This is the code that carries the guarantee "nothing lost, nothing duplicated":

- `handle` returns only once every record of the batch is indexed or dead-lettered; the caller
  acknowledges the offsets after it returns, so a crash before then replays the batch.
- Indexing is by article id and alerts by (rule, story) id, so a replay duplicates nothing and
  alerts nothing twice; a story's copies and later articles are added to its alert, not delivered.
- An alert is stored pending, then published to the topic, then marked published: a crash between
  the index and the topic leaves it pending, and the batch's replay publishes it, so the index
  and the topic cannot diverge (at least once on the topic, by the alert's id as key).
- The story stage decides each article's copy and story before indexing, from signatures stored
  by earlier batches (any worker's); a replayed article finds its own and keeps its decision.
- Transient failures (Elasticsearch down, the NLP pool rebuilding) are retried until they pass:
  the stream stalls visibly instead of dropping articles or buffering without bound.

The sinks are passed in (`processors/worker.py` gives the real ones; tests give lists), so the
handler imports no client library.
"""
from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from processors.alerts import RuleIndex, make_alert, per_story
from processors.config import StoryConfig
from processors.linking import Corrections, corrected
from processors.stories import assign_batch, decided, signature
from schemas import DeadLetter, EnrichedArticle
from schemas.alerts import Alert, Rule
from schemas.stories import StoryMerge, StorySignature

log = logging.getLogger("newsstream.worker")

UNDECODABLE_STAGE = "decode"


@dataclass(frozen=True)
class Record:
    """What the handler needs of one consumed message."""

    value: bytes
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None
    # Set when the consumer could not decode the record's batch (clients/undecodable.py).
    undecodable: str | None = None

    @property
    def where(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset,
                "key": self.key.decode("utf-8", "replace") if self.key else None}


Enrich = Callable[[Sequence[bytes]], Awaitable[list[EnrichedArticle | DeadLetter]]]


class ArticleSink(Protocol):
    async def index(self, articles: list[EnrichedArticle]) -> dict[str, str]:
        """Writes by id; returns the ids refused for good, with the reason (not retried)."""


class AlertStore(Protocol):
    async def record(self, alerts: list[Alert]) -> list[Alert]:
        """Stores alerts by id, one per id, marked pending; an alert stored before gets the new one's
        articles added (`processors.alerts.folded`). Returns the ones to publish: those not stored
        before, and those left pending that `processors.alerts.publication` gives this worker.
        Raises `AlertPending` while another worker may still be publishing one."""

    async def published(self, alerts: list[Alert]) -> None:
        """Clears their pending mark: they are on the topic, and no replay publishes them again."""


class StoryStore(Protocol):
    async def candidates(self, signatures: list[StorySignature]) -> list[list[StorySignature]]:
        """For each signature, the stored decided ones it may be a copy of or share a story with
        (`processors.stories.lookup_query`), its own first if it was decided before."""

    async def record(self, signatures: list[StorySignature]) -> None:
        """Stores decided signatures by article id, visible to the next lookup."""

    async def merge(self, merges: list[StoryMerge]) -> None:
        """Relabels the stored signatures and articles of each merged story."""


class MessageSink(Protocol):
    async def send(self, key: bytes | None, value: bytes) -> None:
        """Delivers one message (a topic); raises on a failure worth retrying."""


class Notifier(Protocol):
    def schedule(self, rule: Rule, alert: Alert) -> None:
        """Starts the alert's deliveries (or holds them for a digest) in the background; never
        blocks or raises into the stream."""


class CorrectionSource(Protocol):
    async def current(self) -> Corrections:
        """The entity merges and splits in force (read again now and then)."""


class NoCorrections:
    async def current(self) -> Corrections:
        return Corrections()


class RuleSource(Protocol):
    ready: asyncio.Event  # set once every stored rule is loaded
    index: RuleIndex


@dataclass(frozen=True)
class Retry:
    first_delay_s: float = 0.5
    max_delay_s: float = 30.0


async def with_retries(what: str, attempt: Callable[[], Awaitable[Any]], retry: Retry = Retry()) -> Any:
    """Retries until it works: while Elasticsearch or the pool is down the agent stops consuming
    (the batch is not acked) instead of dropping articles or buffering without bound."""
    delay = retry.first_delay_s
    while True:
        try:
            return await attempt()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - anything here is transient or we stall visibly
            log.error("%s failed (%s: %s); retrying in %.1f s", what, type(error).__name__, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry.max_delay_s)


@dataclass
class BatchOutcome:
    indexed: list[str] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


@dataclass
class BatchHandler:
    enrich: Enrich
    articles: ArticleSink
    alerts: AlertStore
    dead_letters: MessageSink
    alert_topic: MessageSink
    rules: RuleSource
    notifier: Notifier
    stories: StoryStore
    story_config: StoryConfig = field(default_factory=StoryConfig)
    corrections: CorrectionSource = field(default_factory=NoCorrections)
    retry: Retry = field(default_factory=Retry)

    async def handle(self, records: Sequence[Record]) -> BatchOutcome:
        """Processes the batch; returns once its outcome is durable (see the module's docstring)."""
        return await self.write(records, await self.enriched(records))

    async def enriched(self, records: Sequence[Record]) -> list[EnrichedArticle | DeadLetter]:
        """Each record's article from the NLP stages, or its dead letter, in order; writes nothing."""
        payloads = [record.value for record in records if record.undecodable is None]
        enriched = iter(await with_retries("enriching", lambda: self.enrich(payloads), self.retry) if payloads else [])
        return [DeadLetter.from_bytes(b"", stage=UNDECODABLE_STAGE, error=record.undecodable)
                if record.undecodable is not None else next(enriched) for record in records]

    async def write(self, records: Sequence[Record], results: list[EnrichedArticle | DeadLetter]) -> BatchOutcome:
        """The enriched batch decided, indexed, dead-lettered and alerted; returns once that is durable."""
        outcome = BatchOutcome()
        if not records:
            return outcome
        results = await self.corrected(results)
        results, signatures, merges = await self.assign_stories(results, records)
        articles = [result for result in results if isinstance(result, EnrichedArticle)]
        refused = await with_retries("indexing", lambda: self.articles.index(articles), self.retry) if articles else {}
        await self.record_stories([s for s in signatures if s.id not in refused], merges)
        for record, result in zip(records, results, strict=True):
            if isinstance(result, DeadLetter):
                outcome.dead_letters.append(result.model_copy(update=record.where))
            elif result.id in refused:
                outcome.dead_letters.append(DeadLetter.from_bytes(
                    record.value, stage="index", error=refused[result.id], **record.where))
            else:
                outcome.indexed.append(result.id)
        for letter in outcome.dead_letters:
            await self.send_dead_letter(letter)
        outcome.alerts = await self.emit_alerts([article for article in articles if article.id not in refused])
        log.info("batch of %d: %d indexed, %d dead letters, %d alerts", len(records), len(outcome.indexed),
                 len(outcome.dead_letters), len(outcome.alerts))
        return outcome

    async def corrected(self, results: list[EnrichedArticle | DeadLetter]) -> list[EnrichedArticle | DeadLetter]:
        """The merges and splits people made, applied before indexing and matching; a failure to
        read them keeps the last ones read (the source's business), never the batch waiting."""
        corrections = await self.corrections.current()
        if not corrections:
            return results
        return [result.model_copy(update={"entities": corrected(result.entities, corrections)})
                if isinstance(result, EnrichedArticle) else result for result in results]

    async def assign_stories(
        self, results: list[EnrichedArticle | DeadLetter], records: Sequence[Record],
    ) -> tuple[list[EnrichedArticle | DeadLetter], list[StorySignature], list[StoryMerge]]:
        """Each article's `duplicate_of` and `story_id`; an article whose signature cannot be made
        is a dead letter of the stories stage."""
        signatures: list[StorySignature] = []
        for position, result in enumerate(results):
            if isinstance(result, EnrichedArticle):
                try:
                    signatures.append(signature(result, self.story_config))
                except Exception as error:  # noqa: BLE001 - this article's dead letter, not the batch's
                    results[position] = DeadLetter.from_bytes(records[position].value, stage="stories",
                                                              error=f"{type(error).__name__}: {error}")
        if not signatures:
            return results, [], []
        found = await with_retries("looking up stories", lambda: self.stories.candidates(signatures), self.retry)
        decisions, merges = assign_batch(signatures, found, self.story_config)
        by_id = {decision.id: decision for decision in decisions}
        return ([decided(result, by_id[result.id]) if isinstance(result, EnrichedArticle) else result
                 for result in results], decisions, merges)

    async def record_stories(self, signatures: list[StorySignature], merges: list[StoryMerge]) -> None:
        """After indexing: a crash before this replays the batch, which decides the same again."""
        if signatures:
            await with_retries("recording story signatures", lambda: self.stories.record(signatures), self.retry)
        if merges:
            await with_retries("merging stories", lambda: self.stories.merge(merges), self.retry)
            log.info("stories merged: %s", ", ".join(f"{m.story_id} into {m.into}" for m in merges))

    async def send_dead_letter(self, letter: DeadLetter) -> None:
        key = (letter.key or "").encode() or None
        await with_retries("sending a dead letter", lambda: self.dead_letters.send(key, letter.model_dump_json().encode()),
                           self.retry)
        log.warning("dead letter from %s at offset %s: %s", letter.stage, letter.offset, letter.error)

    async def emit_alerts(self, articles: list[EnrichedArticle]) -> list[Alert]:
        """Matches before the batch is acked: a crash before this point replays the batch, and the
        (rule, story) ids make the replay alert nothing twice."""
        if not articles:
            return []
        await self.rules.ready.wait()
        index = self.rules.index
        alerts = per_story([make_alert(match, article) for article in articles for match in index.match(article)])
        if not alerts:
            return []
        # An outbox: stored pending, published, then marked. A crash in between leaves the alert
        # pending, and the replay of the unacked batch publishes it (see AlertStore.record).
        new = await with_retries("storing alerts", lambda: self.alerts.record(alerts), self.retry)
        for alert in new:
            await with_retries("publishing an alert", lambda: self.alert_topic.send(alert.id.encode(),
                                                                                    alert.model_dump_json().encode()),
                               self.retry)
            if (rule := index.get(alert.rule)) is not None:
                self.notifier.schedule(rule, alert)
        if new:
            await with_retries("marking alerts published", lambda: self.alerts.published(new), self.retry)
        return new


Acknowledge = Callable[[], Awaitable[None]]
# What becomes of a batch the handler raised on unexpectedly: each record a dead letter with the error.
DeadLetterBatch = Callable[[Sequence[Record], str], Awaitable[None]]


@dataclass
class OverlappedBatches:
    """Batches through the handler with the next one's NLP stages overlapping the last one's
    writes: otherwise the NLP pool idles while the story lookup, indexing and alerts wait on
    Elasticsearch. Batches are written one at a time in the order submitted (the story stage
    decides each against the signatures the one before recorded), and each is acknowledged after
    it is written and after the one before it; at most two batches are in flight."""

    handler: Callable[[], Awaitable[BatchHandler]]
    dead_letter_batch: DeadLetterBatch
    _last: asyncio.Task[None] | None = field(default=None, init=False)

    async def submit(self, records: Sequence[Record], acknowledge: Acknowledge) -> None:
        """Starts the batch, and returns once the batch before it is written and acknowledged."""
        previous = self._last
        self._last = asyncio.create_task(self._through(records, previous, acknowledge))
        if previous is not None:
            await previous

    async def stop(self) -> None:
        """Cancels what is in flight: unacknowledged, it is consumed again."""
        if self._last is not None:
            self._last.cancel()
            await asyncio.gather(self._last, return_exceptions=True)
            self._last = None

    async def _through(self, records: Sequence[Record], previous: asyncio.Task[None] | None,
                       acknowledge: Acknowledge) -> None:
        # Nothing but cancellation leaves here: the next batch waits on this task.
        failure: str | None = None
        try:
            handler = await self.handler()
            results = await handler.enriched(records)
        except Exception:  # noqa: BLE001 - the batch's dead letters, after the batch before it
            failure = self._failed(records)
        if previous is not None:
            await previous
        if failure is None:
            try:
                await handler.write(records, results)
            except Exception:  # noqa: BLE001 - an escaping exception would stop the agent silently
                failure = self._failed(records)
        try:
            if failure is not None:
                await self.dead_letter_batch(records, failure)
            await acknowledge()
        except Exception:  # noqa: BLE001 - unacknowledged, the batch is consumed again after a restart
            log.exception("batch of %d not acknowledged", len(records))

    @staticmethod
    def _failed(records: Sequence[Record]) -> str:
        log.exception("batch of %d failed unexpectedly; its records are dead-lettered", len(records))
        return traceback.format_exc(limit=3)
