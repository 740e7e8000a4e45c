"""The poller goes through the outbound-request guard: a feed entry linking to an internal page is
not fetched (its summary stands in), and a feed on an internal address is refused with the reason."""
from __future__ import annotations

from ingest.feeds.fetch import FeedClient
from ingest.feeds.poller import FeedPoller
from ingest.feeds.seen import SeenSet
from ingest.feeds.sources import FeedSource
from ingest.feeds.state import SourceStates
from newsstream.settings import Settings
from tests.ingest.feeds.feedserver import FeedServer, Item, Route, article_page, rss_feed
from tests.ingest.feeds.test_feeds_poller import MemoryTable

HTML = "text/html; charset=utf-8"


def poll_once(settings: Settings, source: FeedSource) -> tuple[list, object]:
    sent: list = []
    with FeedClient(settings.feeds) as client:
        poller = FeedPoller(client=client, seen=SeenSet(MemoryTable()), states=SourceStates(MemoryTable()),
                            send=sent.extend)
        report = poller.poll(source)
    return sent, report


def test_an_entry_linking_to_an_internal_page_is_never_fetched() -> None:
    public, internal = FeedServer(), FeedServer()  # two loopback servers; only the feed's is allowed
    try:
        internal.routes["/admin"] = Route(article_page("Admin", ["Internal secrets: the admin password list."]),
                                          content_type=HTML)
        public.routes["/feed.rss"] = Route(rss_feed("Wire", [Item("Story", internal.url("/admin"), "The teaser.")]))
        port = public.base.rsplit(":", 1)[1]
        settings = Settings(feeds_host_interval_s=0, feeds_retries=0, outbound_allow=f"127.0.0.1:{port}")
        sent, _ = poll_once(settings, FeedSource(name="wire", url=public.url("/feed.rss"), full_text=True))
        assert internal.requests == []
        (article,) = sent
        assert article.body == "The teaser." and "secrets" not in article.body
        assert article.metadata["extraction_error"] == "page not fetched: Requests to 127.0.0.1 are refused: it is a loopback address."
    finally:
        public.close()
        internal.close()


def test_a_feed_on_an_internal_address_is_refused_and_reported() -> None:
    server = FeedServer()
    try:
        server.routes["/feed.rss"] = Route(rss_feed("Wire", [Item("Story", server.url("/1"), "Teaser.")]))
        sent, report = poll_once(Settings(feeds_host_interval_s=0, feeds_retries=0),
                                 FeedSource(name="wire", url=server.url("/feed.rss")))
        assert server.requests == [] and sent == []
        assert not report.ok and report.error == "Requests to 127.0.0.1 are refused: it is a loopback address."
    finally:
        server.close()
