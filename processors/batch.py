"""One batch of `articles.raw` records through the service: enriched, indexed, dead letters and
alerts out. This is the code that carries the guarantee "nothing lost, nothing duplicated":

- `handle` returns only once every record of the batch is indexed or dead-lettered; the caller
  acknowledges the offsets after it returns, so a crash before then replays the batch.
- Indexing is by article id and alerts by (rule, article) id, so a replay duplicates nothing and
  alerts nothing twice.
- Transient failures (Elasticsearch down, the NLP pool rebuilding) are retried until they pass:
  the stream stalls visibly instead of dropping articles or buffering without bound.

The sinks are passed in (`processors/worker.py` gives the real ones; tests give lists), so the
handler imports no client library.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from processors.alerts import RuleIndex, make_alert
from processors.linking import Corrections, corrected
from schemas import DeadLetter, EnrichedArticle
from schemas.alerts import Alert

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
    async def record_new(self, alerts: list[Alert]) -> list[Alert]:
        """Stores alerts by id; returns those not stored before."""


class MessageSink(Protocol):
    async def send(self, key: bytes | None, value: bytes) -> None:
        """Delivers one message (a topic); raises on a failure worth retrying."""


class Notifier(Protocol):
    def schedule(self, target: str, alert: Alert) -> None:
        """Starts a delivery in the background; never blocks or raises into the stream."""


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
    corrections: CorrectionSource = field(default_factory=NoCorrections)
    retry: Retry = field(default_factory=Retry)

    async def handle(self, records: Sequence[Record]) -> BatchOutcome:
        """Processes the batch; returns once its outcome is durable (see the module's docstring)."""
        outcome = BatchOutcome()
        if not records:
            return outcome
        payloads = [record.value for record in records if record.undecodable is None]
        enriched = iter(await with_retries("enriching", lambda: self.enrich(payloads), self.retry) if payloads else [])
        results = [DeadLetter.from_bytes(b"", stage=UNDECODABLE_STAGE, error=record.undecodable)
                   if record.undecodable is not None else next(enriched) for record in records]
        results = await self.corrected(results)
        articles = [result for result in results if isinstance(result, EnrichedArticle)]
        refused = await with_retries("indexing", lambda: self.articles.index(articles), self.retry) if articles else {}
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

    async def send_dead_letter(self, letter: DeadLetter) -> None:
        key = (letter.key or "").encode() or None
        await with_retries("sending a dead letter", lambda: self.dead_letters.send(key, letter.model_dump_json().encode()),
                           self.retry)
        log.warning("dead letter from %s at offset %s: %s", letter.stage, letter.offset, letter.error)

    async def emit_alerts(self, articles: list[EnrichedArticle]) -> list[Alert]:
        """Matches before the batch is acked: a crash before this point replays the batch, and the
        (rule, article) ids make the replay alert nothing twice."""
        if not articles:
            return []
        await self.rules.ready.wait()
        index = self.rules.index
        alerts = [make_alert(match, article) for article in articles for match in index.match(article)]
        if not alerts:
            return []
        new = await with_retries("storing alerts", lambda: self.alerts.record_new(alerts), self.retry)
        for alert in new:
            await with_retries("publishing an alert", lambda: self.alert_topic.send(alert.id.encode(),
                                                                                    alert.model_dump_json().encode()),
                               self.retry)
            webhook = index.webhook_for(alert.rule)
            if webhook:
                self.notifier.schedule(webhook, alert)
        return new
