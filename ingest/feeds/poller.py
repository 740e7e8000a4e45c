"""Polling: one pass over the sources (`FeedPoller.poll_all`) or a loop that polls each source at
its own interval (`run_forever`). Each poll returns a `PollReport`; a failing source is a report
with an error, never an exception that stops the others.

Order of a poll, so that nothing is lost on a crash: fetch (conditional) → parse → drop what was
seen → build articles (page text or the feed's summary) → produce and wait for the acks → remember
the entries as seen → store the validators. A crash in between makes the next poll send some
entries again, which is harmless: an article's id comes from its URL.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from ingest.feeds.extract import Extraction, ExtractionFailed, extract_article
from ingest.feeds.fetch import PAGE_ACCEPT, FeedClient, Validators
from ingest.feeds.parse import FeedEntry, ParsedFeed, parse_feed
from ingest.feeds.report import PollReport
from ingest.feeds.seen import SeenRecord, SeenSet
from ingest.feeds.sources import FeedSource
from ingest.feeds.state import SourceState, SourceStates
from clients.kafka import CompactedTable, TableError, make_producer
from ingest.feeds.config import FeedsConfig
from ingest.producer import produce_articles
from schemas import RawArticle

Send = Callable[[list[RawArticle]], object]
OnReport = Callable[[PollReport], None]


class FeedPoller:
    def __init__(self, *, client: FeedClient, seen: SeenSet, states: SourceStates, send: Send,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self._client, self._seen, self._states, self._send, self._clock = client, seen, states, send, clock

    @property
    def remembered(self) -> int:
        """How many entries are known as seen (and so will not be sent again)."""
        return len(self._seen)

    def poll_all(self, sources: Iterable[FeedSource], on_report: OnReport = lambda _: None) -> list[PollReport]:
        reports = []
        for source in sources:
            reports.append(self.poll(source))
            on_report(reports[-1])
        return reports

    def poll(self, source: FeedSource) -> PollReport:
        started = time.monotonic()
        report = PollReport(source=source.name, url=source.url, polled_at=self._clock())
        state = self._states.get(source.name)
        known = state.validators if state.url == source.url else Validators()
        try:
            validators = self._poll(source, known, report)
        except Exception as error:  # noqa: BLE001 - one failing source must not stop the others
            report.error = f"{type(error).__name__}: {error}"
            validators = known
        report.duration_s = round(time.monotonic() - started, 3)
        try:
            self._states.save(SourceState(
                source=source.name, url=source.url, validators=validators, last_report=report,
                last_success_at=report.polled_at if report.ok else state.last_success_at,
            ))
        except TableError as error:
            report.error = report.error or f"state not saved: {error}"
        return report

    def _poll(self, source: FeedSource, known: Validators, report: PollReport) -> Validators:
        """Fills `report`; returns the validators to send next time."""
        fetched = self._client.get(source.url, validators=known)
        report.status = fetched.status
        if not fetched.ok:
            report.error = fetched.error + (f" ({fetched.attempts} tries)" if fetched.attempts > 1 else "")
            return known
        if fetched.not_modified:
            report.not_modified = True
            return fetched.validators
        feed = parse_feed(fetched.content, source=source.name, url=fetched.final_url or source.url,
                          content_type=fetched.content_type)
        if feed.problem:
            report.error = feed.problem
            return known
        new = self._unseen(feed.entries)
        report.entries, report.new, report.already_seen = len(feed.entries), len(new), len(feed.entries) - len(new)
        articles: dict[str, RawArticle] = {}
        for entry in reversed(new):  # feeds list the newest first; send in publication order
            article = self._article(source, feed, entry, report)
            if article is not None:
                articles[entry.key] = article
        if articles:
            self._send(list(articles.values()))
            self._seen.add({key: SeenRecord(source=source.name, url=article.url) for key, article in articles.items()})
        report.sent = len(articles)
        # An entry left without text must show up again: keep the old validators so that no 304 hides it.
        return known if report.without_text else fetched.validators

    def _unseen(self, entries: list[FeedEntry]) -> list[FeedEntry]:
        unseen: dict[str, FeedEntry] = {}
        for entry in entries:
            if entry.key not in self._seen and entry.key not in unseen:
                unseen[entry.key] = entry
        return list(unseen.values())

    def _article(self, source: FeedSource, feed: ParsedFeed, entry: FeedEntry, report: PollReport) -> RawArticle | None:
        extraction, failure = self._extract(entry) if source.full_text and entry.link else (None, None)
        body = extraction.body if extraction else entry.summary
        name = entry.link or entry.key
        if not body:
            report.without_text += 1
            report.warn(f"{name}: no text" + (f" ({failure}), nor a summary in the feed" if failure else ""))
            return None
        if failure:
            report.fallbacks += 1
            report.warn(f"{name}: {failure}; the feed's summary is used")
        if extraction:
            report.extracted += 1
        metadata = {
            "feed": source.url,
            "author": entry.author or (extraction.author if extraction else None),
            "language_hint": language_hint(source.language, extraction.language if extraction else None, feed.language),
            "extracted": extraction is not None,
            "extraction_error": failure,
        }
        return RawArticle(
            url=entry.link,
            source=source.name,
            title=entry.title or (extraction.title if extraction else ""),
            body=body,
            published_at=entry.published_at or (extraction.published_at if extraction else None),
            metadata={key: value for key, value in metadata.items() if value is not None},
        )

    def _extract(self, entry: FeedEntry) -> tuple[Extraction | None, str | None]:
        """The page's text, or why there is none."""
        page = self._client.get(entry.link, accept=PAGE_ACCEPT)
        if not page.ok:
            return None, f"page not fetched: {page.error}"
        try:
            result = extract_article(page.content, url=page.final_url or entry.link)
        except Exception as error:  # noqa: BLE001 - one unreadable page must not fail its feed
            return None, f"extraction failed: {type(error).__name__}: {error}"
        if isinstance(result, ExtractionFailed):
            return None, result.reason
        if len(result.body) < len(entry.summary):
            return None, "the page's text is shorter than the feed's summary"
        return result, None


def language_hint(*declared: str | None) -> str | None:
    """The first declared language tag as its primary subtag: "en-GB" → "en", "pt_BR" → "pt"."""
    for tag in declared:
        primary = (tag or "").replace("_", "-").split("-")[0].strip().lower()
        if primary:
            return primary
    return None


class Schedule:
    """When each source is next due: all at once at start, then every source's own interval."""

    def __init__(self, sources: Iterable[FeedSource], clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sources = list(sources)
        self._due_at = {source.name: clock() for source in self._sources}

    def due(self) -> list[FeedSource]:
        now = self._clock()
        return [source for source in self._sources if self._due_at[source.name] <= now]

    def polled(self, source: FeedSource) -> None:
        self._due_at[source.name] = self._clock() + source.interval_s

    def seconds_to_next(self) -> float:
        return max(0.0, min(self._due_at.values(), default=0.0) - self._clock())


def run_forever(poller: FeedPoller, sources: list[FeedSource], stop: threading.Event,
                on_report: OnReport = lambda _: None) -> None:
    """Polls each source whenever it is due until `stop` is set (checked between two sources)."""
    schedule = Schedule(sources)
    while not stop.is_set():
        for source in schedule.due():
            if stop.is_set():
                return
            on_report(poller.poll(source))
            schedule.polled(source)
        stop.wait(schedule.seconds_to_next())


@contextmanager
def feed_poller(config: FeedsConfig) -> Iterator[FeedPoller]:
    """A poller on the real things: HTTP, the seen and state topics, and articles.raw.

    Raises TableError when Kafka or one of the feed topics cannot be read.
    """
    seen_table = CompactedTable(config.kafka, config.topic_seen)
    state_table = CompactedTable(config.kafka, config.topic_state)
    try:
        seen, states = SeenSet(seen_table), SourceStates(state_table)
        producer = make_producer(config.kafka)
        try:
            with FeedClient(config) as client:
                yield FeedPoller(client=client, seen=seen, states=states,
                                 send=lambda articles: produce_articles(producer, config.topic_raw, articles))
        finally:
            producer.close()
    finally:
        seen_table.close()
        state_table.close()
