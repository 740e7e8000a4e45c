"""The batch handler with in-memory sinks: what it guarantees, without Kafka or Elasticsearch."""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from processors.alerts import PENDING_LEASE, AlertPending, Pending, RuleIndex, folded, publication
from processors.batch import BatchHandler, Record, Retry
from processors.config import DEFAULT_LANGUAGES, PipelineConfig, StoryConfig
from processors.linking import Corrections, entity_id
from processors.pipeline import process_messages
from processors.stories import InMemoryStories
from schemas import DeadLetter, EnrichedArticle
from schemas.alerts import Alert, Channel, Rule
from schemas.articles import Entity
from schemas.entities import EntityCorrection
from schemas.stories import StoryMerge, StorySignature

FAST = Retry(first_delay_s=0.01, max_delay_s=0.02)
CONFIG = PipelineConfig(spacy_models=())  # no NER: these tests are about routing, not entities


async def enrich(payloads: Sequence[bytes]) -> list[EnrichedArticle | DeadLetter]:
    return process_messages(payloads, CONFIG)


@dataclass
class Articles:
    """The index: ids it holds, in write order; it refuses some ids and fails the first calls."""

    refuse: dict[str, str] = field(default_factory=dict)
    failures_left: int = 0
    stored: list[str] = field(default_factory=list)
    calls: int = 0

    async def index(self, articles: list[EnrichedArticle]) -> dict[str, str]:
        self.calls += 1
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("Elasticsearch is down")
        refused = {a.id: self.refuse[a.id] for a in articles if a.id in self.refuse}
        self.stored += [a.id for a in articles if a.id not in refused]
        return refused


@dataclass
class Alerts:
    """The alerts index with its pending marks; `owner` is the worker (a restart is another)."""

    stored: dict[str, Alert] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)
    owner: str = "worker-1"
    lease: timedelta = PENDING_LEASE

    async def record(self, alerts: list[Alert]) -> list[Alert]:
        now = datetime.now(timezone.utc)
        to_publish = []
        for alert in alerts:
            if alert.id not in self.stored:
                self.stored[alert.id], self.pending[alert.id] = alert, Pending(self.owner, now)
                to_publish.append(alert)
                continue
            decision = publication(self.pending.get(alert.id), self.owner, now, self.lease)
            if decision == "wait":
                raise AlertPending(alert.id)
            self.stored[alert.id] = folded(self.stored[alert.id], alert) or self.stored[alert.id]
            if decision in ("mine", "claim"):
                self.pending[alert.id] = Pending(self.owner, now)
                to_publish.append(self.stored[alert.id])
        return to_publish

    async def published(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self.pending.pop(alert.id, None)


@dataclass
class Stories:
    """The signature store in memory, behind the handler's async interface."""

    memory: InMemoryStories = field(default_factory=lambda: InMemoryStories(StoryConfig()))
    failures_left: int = 0

    async def candidates(self, signatures: list[StorySignature]) -> list[list[StorySignature]]:
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("Elasticsearch is down")
        return self.memory.candidates(signatures)

    async def record(self, signatures: list[StorySignature]) -> None:
        self.memory.record(signatures)

    async def merge(self, merges: list[StoryMerge]) -> None:
        self.memory.merge(merges)


@dataclass
class Topic:
    messages: list[tuple[bytes | None, bytes]] = field(default_factory=list)
    dies_on_send: bool = False  # the process is killed (not an error to retry) on the next send

    async def send(self, key: bytes | None, value: bytes) -> None:
        if self.dies_on_send:
            self.dies_on_send = False
            raise asyncio.CancelledError
        self.messages.append((key, value))


@dataclass
class Webhooks:
    scheduled: list[tuple[str, str]] = field(default_factory=list)

    def schedule(self, rule: Rule, alert: Alert) -> None:
        self.scheduled += [(channel.url, alert.id) for channel in rule.channels]


class Rules:
    def __init__(self, *rules: Rule) -> None:
        self.index = RuleIndex(DEFAULT_LANGUAGES)
        for rule in rules:
            self.index.add(rule)
        self.ready = asyncio.Event()
        self.ready.set()


@dataclass
class Service:
    articles: Articles = field(default_factory=Articles)
    alerts: Alerts = field(default_factory=Alerts)
    dead_letters: Topic = field(default_factory=Topic)
    alert_topic: Topic = field(default_factory=Topic)
    webhooks: Webhooks = field(default_factory=Webhooks)
    stories: Stories = field(default_factory=Stories)
    rules: Rules = field(default_factory=lambda: Rules(Rule(name="sanctions", query="sanctions",
                                                            webhook="https://hooks.example/a")))

    def handler(self) -> BatchHandler:
        return BatchHandler(enrich=enrich, articles=self.articles, alerts=self.alerts, dead_letters=self.dead_letters,
                            alert_topic=self.alert_topic, rules=self.rules, notifier=self.webhooks,
                            stories=self.stories, retry=FAST)


def record(offset: int, title: str = "EU ministers agree new sanctions", **fields: object) -> Record:
    article = {"id": f"a{offset}", "title": title, "body": f"The ministers agreed new sanctions, item {offset}.",
               **fields}
    return Record(value=orjson.dumps(article), topic="articles.raw", partition=0, offset=offset, key=f"a{offset}".encode())


def letters(topic: Topic) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(value) for _, value in topic.messages]


def test_every_record_is_indexed_or_dead_lettered_before_the_handler_returns() -> None:
    service = Service()
    batch = [record(0), Record(value=b"{not json", topic="articles.raw", partition=0, offset=1), record(2)]
    outcome = asyncio.run(service.handler().handle(batch))
    assert service.articles.stored == outcome.indexed == ["a0", "a2"]
    (letter,) = letters(service.dead_letters)
    assert (letter.stage, letter.offset, letter.partition, letter.topic) == ("validate", 1, 0, "articles.raw")
    assert letter.payload == b"{not json" and "not JSON" in letter.error


def test_offsets_are_acknowledged_only_after_indexing_and_an_outage_loses_nothing() -> None:
    service = Service(articles=Articles(failures_left=3))
    acked: list[int] = []

    async def consume() -> None:
        batch = [record(n) for n in range(3)]
        await service.handler().handle(batch)
        acked.extend(r.offset for r in batch)  # what the Faust agent does once handle returns

    asyncio.run(consume())
    assert service.articles.calls == 4  # three failures, retried, then written
    assert service.articles.stored == ["a0", "a1", "a2"] and acked == [0, 1, 2]
    assert service.dead_letters.messages == []


def test_while_elasticsearch_is_down_the_handler_does_not_return() -> None:
    service = Service(articles=Articles(failures_left=10**6))

    async def attempt() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(service.handler().handle([record(0)]), timeout=0.3)

    asyncio.run(attempt())
    assert service.articles.stored == [] and service.dead_letters.messages == [] and service.alerts.stored == {}


def test_a_document_elasticsearch_refuses_becomes_a_dead_letter_with_its_reason() -> None:
    reason = "mapper_parsing_exception: failed to parse field [published_at]"
    service = Service(articles=Articles(refuse={"a1": reason}))
    outcome = asyncio.run(service.handler().handle([record(0), record(1)]))
    assert outcome.indexed == ["a0"]
    (letter,) = letters(service.dead_letters)
    assert (letter.stage, letter.error, letter.offset) == ("index", reason, 1)
    assert letter.payload == record(1).value
    assert [alert.article_id for alert in service.alerts.stored.values()] == ["a0"]  # no alert for what is not stored


def test_alerts_once_per_rule_and_story_across_replays() -> None:
    service = Service()
    batch = [record(0), record(1, title="Weather", body="Sunny all week.")]
    first = asyncio.run(service.handler().handle(batch))
    replay = asyncio.run(service.handler().handle(batch))
    assert [alert.article_id for alert in first.alerts] == ["a0"] and replay.alerts == []
    assert len(service.alert_topic.messages) == 1 and len(service.webhooks.scheduled) == 1
    key, value = service.alert_topic.messages[0]
    assert key == first.alerts[0].id.encode() and Alert.model_validate_json(value).rule == "sanctions"
    assert service.webhooks.scheduled == [("https://hooks.example/a", first.alerts[0].id)]


def test_a_crash_between_the_index_and_the_topic_loses_no_alert() -> None:
    service = Service(alert_topic=Topic(dies_on_send=True))
    batch = [record(0)]
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(service.handler().handle(batch))
    assert len(service.alerts.stored) == 1 and service.alert_topic.messages == []  # in the index, not on the topic

    # The restarted worker replays the unacked batch; once the lease has run out it publishes the alert.
    service.alerts = Alerts(stored=service.alerts.stored, pending=service.alerts.pending, owner="worker-2",
                            lease=timedelta(0))
    replay = asyncio.run(service.handler().handle(batch))
    assert [alert.article_id for alert in replay.alerts] == ["a0"] and service.alerts.pending == {}
    (key, _), = service.alert_topic.messages
    assert key == replay.alerts[0].id.encode() and len(service.webhooks.scheduled) == 1
    assert asyncio.run(service.handler().handle(batch)).alerts == [] and len(service.alert_topic.messages) == 1


def test_an_alert_another_worker_is_publishing_is_left_to_it_within_the_lease() -> None:
    service = Service()
    asyncio.run(service.handler().handle([record(0)]))
    (alert_id,) = service.alerts.stored
    service.alerts.pending[alert_id] = Pending("worker-2", datetime.now(timezone.utc))  # stored, not yet published

    async def same_story_meanwhile() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(service.handler().handle([record(0)]), timeout=0.3)

    asyncio.run(same_story_meanwhile())
    assert len(service.alert_topic.messages) == 1  # waiting (the batch unacked), not publishing it again
    service.alerts.pending.pop(alert_id)  # worker-2 published it
    assert asyncio.run(service.handler().handle([record(0)])).alerts == [] and len(service.alert_topic.messages) == 1


def test_publication_leaves_a_pending_alert_to_its_worker_until_the_lease_runs_out() -> None:
    now = datetime(2026, 12, 3, 12, tzinfo=timezone.utc)
    assert publication(None, "w1", now) == "published"
    assert publication(Pending("w1", now), "w1", now) == "mine"
    assert publication(Pending("w2", now - PENDING_LEASE / 2), "w1", now) == "wait"
    assert publication(Pending("w2", now - PENDING_LEASE), "w1", now) == "claim"


def test_an_empty_batch_does_nothing() -> None:
    service = Service()
    outcome = asyncio.run(service.handler().handle([]))
    assert (outcome.indexed, outcome.dead_letters, outcome.alerts) == ([], [], [])
    assert service.articles.calls == 0 and service.dead_letters.messages == []


def test_records_of_an_undecodable_batch_become_dead_letters_with_the_reason() -> None:
    service = Service()
    reason = "undecodable record batch (offsets 5-6, compression snappy): UnsupportedCodecError"
    batch = [Record(value=b"", topic="articles.raw", partition=2, offset=5, undecodable=reason),
             Record(value=b"", topic="articles.raw", partition=2, offset=6, undecodable=reason), record(7)]
    outcome = asyncio.run(service.handler().handle(batch))
    assert outcome.indexed == ["a7"]
    assert [(d.stage, d.offset, d.error) for d in letters(service.dead_letters)] == [("decode", 5, reason),
                                                                                      ("decode", 6, reason)]


def test_only_undecodable_records_never_reach_the_nlp_stage() -> None:
    service = Service()
    called: list[Sequence[bytes]] = []

    async def counting(payloads: Sequence[bytes]) -> list[EnrichedArticle | DeadLetter]:
        called.append(payloads)
        return await enrich(payloads)

    handler = service.handler()
    handler.enrich = counting
    asyncio.run(handler.handle([Record(value=b"", offset=1, undecodable="corrupt")]))
    assert called == [] and len(service.dead_letters.messages) == 1


@dataclass
class FixedCorrections:
    corrections: Corrections

    async def current(self) -> Corrections:
        return self.corrections


def test_entity_corrections_apply_before_indexing_and_alert_matching() -> None:
    merged = entity_id("person", "Vladimir Vladimirovich Putin")
    correction = EntityCorrection(id=EntityCorrection.merge_id(merged), kind="merge", entity_id=merged,
                                  into="per:vladimir-putin", name="Vladimir Putin", created_at=datetime.now(timezone.utc))

    async def enrich_with_entity(payloads: Sequence[bytes]) -> list[EnrichedArticle | DeadLetter]:
        entity = Entity(id=merged, name="Vladimir Vladimirovich Putin", text="Vladimir Vladimirovich Putin",
                        label="person", count=1)
        return [article.model_copy(update={"entities": [entity]}) if isinstance(article, EnrichedArticle) else article
                for article in process_messages(payloads, CONFIG)]

    indexed: list[EnrichedArticle] = []

    class Recording(Articles):
        async def index(self, articles: list[EnrichedArticle]) -> dict[str, str]:
            indexed.extend(articles)
            return await super().index(articles)

    service = Service(articles=Recording(), rules=Rules(Rule(name="putin", query="spoke", entity="per:vladimir-putin")))
    handler = service.handler()
    handler.enrich, handler.corrections = enrich_with_entity, FixedCorrections(Corrections.of([correction]))
    outcome = asyncio.run(handler.handle([record(0, title="Talks", body="Vladimir Vladimirovich Putin spoke.")]))
    assert [(e.id, e.name) for e in indexed[0].entities] == [("per:vladimir-putin", "Vladimir Putin")]
    assert [alert.rule for alert in outcome.alerts] == ["putin"]


WIRE = ("Foreign ministers of the European Union agreed on Monday in Brussels to impose new sanctions on "
        "twelve shipping companies accused of moving Russian oil through a shadow fleet of ageing tankers. "
        "The measures freeze the companies' assets and bar European ports from servicing their vessels, "
        "officials said after a meeting that lasted more than six hours.")
COPIES = [("Herald", "EU hits shadow-fleet shippers with sanctions", WIRE),
          ("Courier", "Brussels agrees sanctions on tanker firms", WIRE + "\n\nRead more: our sanctions coverage."),
          ("Gazette", "New EU sanctions target twelve shipping firms", WIRE.replace("six hours", "seven hours"))]


def test_a_story_alerts_once_and_its_copies_are_added_to_that_alert() -> None:
    service = Service()
    batches = [[record(n, title=title, body=body, source=source)] for n, (source, title, body) in enumerate(COPIES)]
    outcomes = [asyncio.run(service.handler().handle(batch)) for batch in batches]
    assert [len(outcome.alerts) for outcome in outcomes] == [1, 0, 0]
    assert len(service.alert_topic.messages) == len(service.webhooks.scheduled) == 1
    (alert,) = service.alerts.stored.values()
    assert (alert.article_ids, alert.article_count, alert.sources) == (["a0", "a1", "a2"], 3, ["Herald", "Courier",
                                                                                                "Gazette"])
    stored = service.stories.memory.stored
    assert {stored[f"a{n}"].story_id for n in range(3)} == {"a0"}
    assert [stored[f"a{n}"].duplicate_of for n in range(3)] == [None, "a0", "a0"]
    asyncio.run(service.handler().handle(batches[1]))  # a replay adds nothing
    assert service.alerts.stored[alert.id].article_count == 3 and len(service.alert_topic.messages) == 1


def test_copies_within_one_batch_alert_once() -> None:
    service = Service()
    outcome = asyncio.run(service.handler().handle(
        [record(n, title=title, body=body, source=source) for n, (source, title, body) in enumerate(COPIES)]))
    (alert,) = outcome.alerts
    assert alert.article_ids == ["a0", "a1", "a2"] and alert.story_id == "a0"


def test_a_replayed_article_keeps_its_story_after_the_story_grew() -> None:
    service = Service()
    first = [record(0, title=COPIES[0][1], body=WIRE)]
    asyncio.run(service.handler().handle(first))
    asyncio.run(service.handler().handle([record(1, title=COPIES[1][1], body=COPIES[1][2])]))
    asyncio.run(service.handler().handle(first))
    stored = service.stories.memory.stored
    assert (stored["a0"].story_id, stored["a0"].duplicate_of) == ("a0", None)


def test_two_workers_racing_on_one_event_end_with_one_story() -> None:
    class Racing(Stories):
        """Two lookups at once: neither returns before both have been made."""

        both_looked = asyncio.Barrier(2)

        async def candidates(self, signatures: list[StorySignature]) -> list[list[StorySignature]]:
            found = self.memory.candidates(signatures)
            await self.both_looked.wait()
            return found

    service = Service(stories=Racing())
    one, two = service.handler(), service.handler()

    async def race() -> None:
        await asyncio.gather(
            one.handle([record(0, title=COPIES[0][1], body=WIRE, published_at="2026-11-30T08:00:00Z")]),
            two.handle([record(1, title="Sanctions on shadow fleet", body=WIRE.replace("Monday", "Sunday night"),
                               published_at="2026-11-30T08:01:00Z")]))

    asyncio.run(race())
    stored = service.stories.memory.stored
    assert {stored["a0"].story_id, stored["a1"].story_id} == {"a0", "a1"}
    service.stories = Stories(memory=service.stories.memory)
    asyncio.run(service.handler().handle([record(2, title="EU widens oil sanctions", published_at="2026-11-30T09:00:00Z",
                                                 body=(
        "The European Union agreed new sanctions on twelve shipping companies of Russia's shadow fleet of tankers "
        "on Monday; foreign ministers in Brussels froze the companies' assets and closed European ports to them."))]))
    assert {stored[f"a{n}"].story_id for n in range(3)} == {"a0"}


def test_while_the_story_lookup_fails_the_handler_retries_and_loses_nothing() -> None:
    service = Service(stories=Stories(failures_left=2))
    outcome = asyncio.run(service.handler().handle([record(0)]))
    assert outcome.indexed == ["a0"] and service.stories.memory.stored["a0"].story_id == "a0"
