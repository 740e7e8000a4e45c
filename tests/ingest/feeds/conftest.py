"""Fixtures for the feed tests: the local feed server, in-memory stand-ins for the compacted topics,
and settings that neither wait between requests nor back off."""
from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from newsstream.settings import PROJECT_ROOT, Settings
from tests.ingest.feeds.feedserver import FeedServer

CORPORA = PROJECT_ROOT.parent / "shared" / "corpora"


class MemoryTable:
    """A CompactedTable kept in a dict: what a restarted poller reads is what the last one wrote."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def read_all(self) -> dict[str, bytes]:
        return dict(self.data)

    def put(self, items: Mapping[str, bytes]) -> None:
        self.data.update(items)

    def close(self) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def quick_settings() -> Settings:
    # The test feed server is on loopback, which only an allow-list entry lets the poller reach.
    return Settings(feeds_host_interval_s=0, feeds_backoff_s=0, feeds_retries=2, feeds_timeout_s=5,
                    outbound_allow="127.0.0.1")
