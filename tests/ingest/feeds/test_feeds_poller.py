import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from ingest.feeds.fetch import FeedClient
from ingest.feeds.poller import FeedPoller, Schedule, language_hint, run_forever
from ingest.feeds.report import PollReport
from ingest.feeds.seen import SeenSet
from ingest.feeds.sources import FeedSource
from ingest.feeds.state import SourceStates
from newsstream.settings import PROJECT_ROOT, Settings
from schemas import RawArticle
from tests.ingest.feeds.conftest import CORPORA, MemoryTable
from tests.ingest.feeds.feedserver import (
    BOILERPLATE_MARKERS, FeedServer, Item, Route, article_page, atom_feed, closed_port_url, paragraphs_about, rss_feed,
)

HTML = "text/html; charset=utf-8"
LAST_MODIFIED = "Tue, 05 Mar 2024 09:00:00 GMT"


@dataclass
class Newsroom:
    """The local server's feeds, the sources pointing at them, and what a poller sent and remembered."""

    server: FeedServer
    settings: Settings
    sources: list[FeedSource]
    seen_table: MemoryTable = field(default_factory=MemoryTable)
    state_table: MemoryTable = field(default_factory=MemoryTable)
    sent: list[RawArticle] = field(default_factory=list)
    clients: list[FeedClient] = field(default_factory=list)

    def poller(self, send=None) -> FeedPoller:  # noqa: ANN001
        """A fresh poller on the same tables, as after a restart."""
        self.clients.append(FeedClient(self.settings.feeds))
        return FeedPoller(client=self.clients[-1], seen=SeenSet(self.seen_table), states=SourceStates(self.state_table),
                          send=send or self.sent.extend)

    def poll_all(self) -> dict[str, PollReport]:
        return {report.source: report for report in self.poller().poll_all(self.sources)}

    def source(self, name: str) -> FeedSource:
        return next(source for source in self.sources if source.name == name)


def wire_items(server: FeedServer, count: int) -> list[Item]:
    return [Item(f"Wire story {n}", server.url(f"/wire/{n}?utm_source=rss"), f"Wire teaser {n}.") for n in range(count, 0, -1)]


@pytest.fixture
def newsroom(feed_server: FeedServer, quick_settings: Settings) -> Iterator[Newsroom]:
    server = feed_server
    server.routes["/wire.rss"] = Route(rss_feed("Wire", wire_items(server, 3)), etag='"wire-1"')
    for n in (1, 2):  # story 3 has no page: its summary stands in
        server.routes[f"/wire/{n}"] = Route(article_page(f"Wire story {n}", paragraphs_about(f"Plan {n}")), content_type=HTML)
    server.routes["/desk.atom"] = Route(atom_feed("Desk", [Item(f"Desk story {n}", server.url(f"/desk/{n}"), f"<p>Desk teaser {n}.</p>")
                                                           for n in (1, 2)]),
                                        content_type="application/atom+xml", last_modified=LAST_MODIFIED)
    server.routes["/plain.rss"] = Route(rss_feed("Plain", [Item(f"Plain story {n}", server.url(f"/plain/{n}"), f"Plain teaser {n}.")
                                                           for n in (1, 2)], language="fr"))
    server.routes["/broken.rss"] = Route(status=500)
    sources = [
        FeedSource(name="wire", url=server.url("/wire.rss"), full_text=True, language="en"),
        FeedSource(name="broken", url=server.url("/broken.rss")),
        FeedSource(name="desk", url=server.url("/desk.atom")),
        FeedSource(name="refused", url=closed_port_url()),
        FeedSource(name="plain", url=server.url("/plain.rss")),
    ]
    room = Newsroom(server, quick_settings, sources)
    yield room
    for client in room.clients:
        client.close()


def test_the_first_pass_sends_every_entry_once_and_failing_sources_do_not_stop_the_others(newsroom: Newsroom) -> None:
    reports = newsroom.poll_all()
    assert [(r.source, r.entries, r.new, r.sent, r.ok) for r in reports.values()] == [
        ("wire", 3, 3, 3, True), ("broken", 0, 0, 0, False), ("desk", 2, 2, 2, True),
        ("refused", 0, 0, 0, False), ("plain", 2, 2, 2, True),
    ]
    assert (reports["broken"].status, reports["broken"].error) == (500, "HTTP 500 Internal Server Error (3 tries)")
    assert reports["refused"].status is None and reports["refused"].error.startswith("cannot fetch")
    assert (reports["wire"].extracted, reports["wire"].fallbacks) == (2, 1)
    assert len(newsroom.server.requests_for("/broken.rss")) == 3  # tried, then retried twice
    assert len(newsroom.sent) == 7 and len({article.id for article in newsroom.sent}) == 7
    assert len(newsroom.seen_table.data) == 7


def test_page_text_replaces_the_teaser_and_carries_no_page_furniture(newsroom: Newsroom) -> None:
    newsroom.poll_all()
    wire = {article.title: article for article in newsroom.sent if article.source == "wire"}
    # The feed lists the newest (3) first; they are sent as published, oldest first.
    assert list(wire) == ["Wire story 1", "Wire story 2", "Wire story 3"]
    story = wire["Wire story 1"]
    assert story.url == newsroom.server.url("/wire/1")  # without its utm_ parameter
    assert story.body == "\n\n".join(paragraphs_about("Plan 1"))
    assert not [marker for marker in BOILERPLATE_MARKERS if marker in story.body]
    assert story.metadata == {"feed": newsroom.server.url("/wire.rss"), "author": "Jane Reporter",
                              "language_hint": "en", "extracted": True}
    assert story.published_at.isoformat() == "2024-03-05T08:30:00+00:00"
    fallback = wire["Wire story 3"]
    assert fallback.body == "Wire teaser 3."
    assert fallback.metadata["extracted"] is False
    assert fallback.metadata["extraction_error"] == "page not fetched: HTTP 404 Not Found"


def test_summaries_are_sent_as_text_when_full_text_is_off(newsroom: Newsroom) -> None:
    newsroom.poll_all()
    desk = next(article for article in newsroom.sent if article.title == "Desk story 1")
    plain = next(article for article in newsroom.sent if article.title == "Plain story 1")
    assert (desk.body, desk.metadata["author"], desk.metadata["extracted"]) == ("Desk teaser 1.", "Desk Writer", False)
    assert "extraction_error" not in desk.metadata
    assert plain.metadata["language_hint"] == "fr"  # the feed's <language>
    assert not newsroom.server.requests_for("/desk/1")  # no page fetched


def test_a_restarted_poller_sends_nothing_again_and_unchanged_feeds_cost_a_304(newsroom: Newsroom) -> None:
    newsroom.poll_all()
    newsroom.sent.clear()
    reports = newsroom.poll_all()  # a new poller, reading what the first one remembered
    assert newsroom.sent == []
    assert (reports["wire"].status, reports["wire"].not_modified, reports["wire"].sent) == (304, True, 0)
    assert (reports["desk"].status, reports["desk"].not_modified) == (304, True)
    assert newsroom.server.requests_for("/wire.rss")[-1].headers["if-none-match"] == '"wire-1"'
    assert newsroom.server.requests_for("/desk.atom")[-1].headers["if-modified-since"] == LAST_MODIFIED
    # No validators: a full 200, and the seen-set keeps every entry out.
    assert (reports["plain"].status, reports["plain"].already_seen, reports["plain"].sent) == (200, 2, 0)


def test_a_changed_feed_sends_only_its_new_entry(newsroom: Newsroom) -> None:
    newsroom.poll_all()
    newsroom.server.routes["/wire.rss"] = Route(rss_feed("Wire", wire_items(newsroom.server, 4)), etag='"wire-2"')
    newsroom.sent.clear()
    report = newsroom.poller().poll(newsroom.source("wire"))
    assert (report.status, report.entries, report.new, report.already_seen, report.sent) == (200, 4, 1, 3, 1)
    assert [article.title for article in newsroom.sent] == ["Wire story 4"]


def test_an_entry_without_any_text_is_tried_again_and_keeps_the_feed_unconditional(newsroom: Newsroom) -> None:
    newsroom.server.routes["/bare.rss"] = Route(rss_feed("Bare", [Item("Bare story", newsroom.server.url("/bare/1"), "")]),
                                                etag='"bare-1"')
    bare = FeedSource(name="bare", url=newsroom.server.url("/bare.rss"), full_text=True)
    first = newsroom.poller().poll(bare)
    assert (first.new, first.sent, first.without_text) == (1, 0, 1)
    assert first.warnings == [f"{newsroom.server.url('/bare/1')}: no text (page not fetched: HTTP 404 Not Found), nor a summary in the feed"]
    assert newsroom.seen_table.data == {}
    newsroom.server.routes["/bare/1"] = Route(article_page("Bare story", paragraphs_about("The bridge")), content_type=HTML)
    second = newsroom.poller().poll(bare)
    assert "if-none-match" not in newsroom.server.requests_for("/bare.rss")[-1].headers
    assert (second.status, second.sent, second.extracted) == (200, 1, 1)


def test_when_sending_fails_nothing_is_remembered(newsroom: Newsroom) -> None:
    def kafka_down(articles: list[RawArticle]) -> None:
        raise ConnectionError("broker unreachable")

    report = newsroom.poller(send=kafka_down).poll(newsroom.source("wire"))
    assert report.error == "ConnectionError: broker unreachable"
    assert newsroom.seen_table.data == {}
    retry = newsroom.poller().poll(newsroom.source("wire"))
    assert "if-none-match" not in newsroom.server.requests_for("/wire.rss")[-1].headers
    assert (retry.status, retry.sent) == (200, 3)


def test_the_state_keeps_validators_and_the_last_report_per_source(newsroom: Newsroom) -> None:
    newsroom.poll_all()
    states = {state.source: state for state in SourceStates(newsroom.state_table).all()}
    assert set(states) == {"wire", "broken", "desk", "refused", "plain"}
    assert states["wire"].validators.etag == '"wire-1"'
    assert states["desk"].validators.last_modified == LAST_MODIFIED
    assert states["wire"].last_report.sent == 3 and states["wire"].last_success_at is not None
    assert states["broken"].last_report.error == "HTTP 500 Internal Server Error (3 tries)"
    assert states["broken"].last_success_at is None


def test_a_real_feed_served_locally_is_sent_entry_by_entry(newsroom: Newsroom) -> None:
    path = CORPORA / "feeds" / "guardian.rss"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    newsroom.server.routes["/guardian.rss"] = Route(path.read_bytes())
    guardian = FeedSource(name="guardian", url=newsroom.server.url("/guardian.rss"))
    first = newsroom.poller().poll(guardian)
    second = newsroom.poller().poll(guardian)
    assert (first.entries, first.sent, first.without_text) == (55, 55, 0)
    assert (second.already_seen, second.sent) == (55, 0)
    assert {article.metadata["language_hint"] for article in newsroom.sent} == {"en"}


@pytest.mark.parametrize(("declared", "expected"), [
    (("de", "en-GB", "fr"), "de"),  # the source's own hint first
    ((None, "en-GB", "fr"), "en"),  # then the page's
    ((None, None, "pt_BR"), "pt"),  # then the feed's
    ((None, "", None), None),
])
def test_the_language_hint_is_the_first_declared_primary_subtag(declared: tuple, expected: str | None) -> None:
    assert language_hint(*declared) == expected


def test_the_schedule_polls_each_source_at_its_own_interval() -> None:
    now = [0.0]
    fast = FeedSource(name="fast", url="https://a.example/feed", interval_s=60)
    slow = FeedSource(name="slow", url="https://b.example/feed", interval_s=600)
    schedule = Schedule([fast, slow], clock=lambda: now[0])
    assert schedule.due() == [fast, slow]
    schedule.polled(fast)
    schedule.polled(slow)
    assert schedule.due() == [] and schedule.seconds_to_next() == 60
    now[0] = 61
    assert schedule.due() == [fast]
    schedule.polled(fast)  # next at 121, slow at 600
    assert schedule.seconds_to_next() == 60


def test_run_forever_polls_until_stopped(newsroom: Newsroom) -> None:
    stop = threading.Event()
    reports: list[PollReport] = []
    sources = [FeedSource(name="plain", url=newsroom.server.url("/plain.rss"), interval_s=1)]

    def on_report(report: PollReport) -> None:
        reports.append(report)
        if len(reports) == 2:
            stop.set()

    worker = threading.Thread(target=run_forever, args=(newsroom.poller(), sources, stop, on_report))
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert [(report.sent, report.already_seen) for report in reports] == [(2, 0), (0, 2)]


def test_a_shipped_feed_served_locally_is_sent_entry_by_entry(newsroom: Newsroom) -> None:
    """The shipped twin of the real-feed test: our own RSS 2.0 feed (samples/feeds/wire-rss2.rss)."""
    newsroom.server.routes["/sample.rss"] = Route((PROJECT_ROOT / "samples" / "feeds" / "wire-rss2.rss").read_bytes())
    sample = FeedSource(name="sample", url=newsroom.server.url("/sample.rss"))
    first = newsroom.poller().poll(sample)
    second = newsroom.poller().poll(sample)
    assert (first.entries, first.sent, first.without_text) == (4, 4, 0)
    assert (second.already_seen, second.sent) == (4, 0)
    assert {article.metadata["language_hint"] for article in newsroom.sent} == {"en"}  # from <language>en-gb
    assert all("<" not in article.body for article in newsroom.sent)
