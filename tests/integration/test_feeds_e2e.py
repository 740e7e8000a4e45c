"""Live feeds end to end on the real stack: `feeds once` against feeds and pages on a local server,
the worker indexing what it sent, `feeds status`, and `feeds run` stopping cleanly on Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient

from newsstream.provision import provision
from newsstream.settings import Settings
from tests.ingest.feeds.feedserver import (
    BOILERPLATE_MARKERS, FeedServer, Item, Route, article_page, atom_feed, closed_port_url, paragraphs_about, rss_feed,
)
from tests.integration.conftest import stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
HTML = "text/html; charset=utf-8"
LAST_MODIFIED = "Tue, 05 Mar 2024 09:00:00 GMT"


@dataclass
class Feeds:
    """The service's settings plus its own feed topics, the feed server, and the sources file."""

    env: dict[str, str]
    settings: Settings
    server: FeedServer
    sources: Path

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        # COLUMNS: rich tables take the full width, so that no cell wraps in what a test reads.
        return subprocess.run([sys.executable, "-m", "newsstream.cli.feeds", *args], env={**self.env, "COLUMNS": "250"},
                              capture_output=True, timeout=timeout, check=False)

    def cli_json(self, *args: str) -> list[dict]:
        done = self.cli(*args, "--json")
        assert done.returncode == 0, done.stderr.decode()
        return json.loads(done.stdout)

    def once(self) -> dict[str, dict]:
        return {report["source"]: report for report in self.cli_json("once", "--sources", str(self.sources))}


def serve_newsroom(server: FeedServer) -> None:
    wire = [Item(f"Wire story {n}", server.url(f"/wire/{n}"), f"Wire teaser {n}.") for n in (3, 2, 1)]
    server.routes["/wire.rss"] = Route(rss_feed("Wire", wire), etag='"wire-1"')
    for n in (1, 2, 3):
        server.routes[f"/wire/{n}"] = Route(article_page(f"Wire story {n}", paragraphs_about(f"Harbour plan {n}")),
                                            content_type=HTML)
    desk = [Item(f"Desk story {n}", server.url(f"/desk/{n}"), f"<p>Desk teaser {n} about the budget vote.</p>") for n in (1, 2)]
    server.routes["/desk.atom"] = Route(atom_feed("Desk", desk), content_type="application/atom+xml",
                                        last_modified=LAST_MODIFIED)
    plain = [Item(f"Plain story {n}", server.url(f"/plain/{n}"), f"Plain teaser {n} on the rail strike.") for n in (1, 2)]
    server.routes["/plain.rss"] = Route(rss_feed("Plain", plain))
    server.routes["/broken.rss"] = Route(status=500)


@pytest.fixture(scope="module")
def feeds(service, tmp_path_factory) -> Iterator[Feeds]:  # noqa: ANN001
    run = uuid.uuid4().hex[:8]
    overrides = {
        "topic_feeds_seen": f"test-{run}.feeds.seen",
        "topic_feeds_state": f"test-{run}.feeds.state",
        "feeds_host_interval_s": 0,
        "feeds_backoff_s": 0.05,
        "feeds_retries": 1,
        "feeds_timeout_s": 10,
    }
    settings = Settings(**{**service.settings.model_dump(), **overrides})
    provision(settings)
    server = FeedServer()
    serve_newsroom(server)
    sources = tmp_path_factory.mktemp("feeds") / "feeds.toml"
    sources.write_text(f"""
[sources.wire]
url = "{server.url('/wire.rss')}"
full_text = true
language = "en"

[sources.desk]
url = "{server.url('/desk.atom')}"

[sources.broken]
url = "{server.url('/broken.rss')}"

[sources.refused]
url = "{closed_port_url()}"

[sources.plain]
url = "{server.url('/plain.rss')}"
interval_s = 1
""")
    env = {**service.env, **{f"NEWSSTREAM_{key.upper()}": str(value) for key, value in overrides.items()}}
    yield Feeds(env=env, settings=settings, server=server, sources=sources)
    server.close()
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        admin.delete_topics([settings.topic_feeds_seen, settings.topic_feeds_state])
    finally:
        admin.close()


@pytest.fixture(scope="module")
def passes(service, feeds: Feeds, es_client) -> list[dict[str, dict]]:  # noqa: ANN001
    """Two `feeds once` passes (two processes) with the worker running, and what got indexed."""
    worker = service.start_worker()
    try:
        first = feeds.once()
        assert service.wait_for_count(es_client, 7) == 7
        second = feeds.once()
    finally:
        stop(worker)
    return [first, second]


def indexed(service, es_client, source: str) -> dict[str, dict]:  # noqa: ANN001
    es_client.indices.refresh(index=service.settings.index_articles)
    hits = es_client.search(index=service.settings.index_articles, query={"term": {"source": source}}, size=100)
    return {hit["_source"]["title"]: hit["_source"] for hit in hits["hits"]["hits"]}


def test_the_first_pass_sends_every_entry_and_reports_the_failing_sources(passes) -> None:  # noqa: ANN001
    first = passes[0]
    assert {name: (report["sent"], report["error"] is None) for name, report in first.items()} == {
        "wire": (3, True), "desk": (2, True), "broken": (0, False), "refused": (0, False), "plain": (2, True),
    }
    assert (first["wire"]["extracted"], first["wire"]["fallbacks"]) == (3, 0)
    assert first["broken"]["status"] == 500


def test_every_entry_is_indexed_once(passes, service, es_client) -> None:  # noqa: ANN001
    assert service.indexed_count(es_client) == 7
    assert set(indexed(service, es_client, "wire")) == {"Wire story 1", "Wire story 2", "Wire story 3"}
    assert set(indexed(service, es_client, "desk")) == {"Desk story 1", "Desk story 2"}


def test_the_second_pass_sends_nothing_and_unchanged_feeds_cost_a_304(passes, feeds: Feeds) -> None:  # noqa: ANN001
    second = passes[1]
    assert sum(report["sent"] for report in second.values()) == 0
    assert (second["wire"]["status"], second["wire"]["not_modified"]) == (304, True)
    assert (second["desk"]["status"], second["desk"]["not_modified"]) == (304, True)
    assert feeds.server.requests_for("/wire.rss")[-1].headers["if-none-match"] == '"wire-1"'
    assert feeds.server.requests_for("/desk.atom")[-1].headers["if-modified-since"] == LAST_MODIFIED
    # This feed has no validators: it is fetched again, and the seen-set (read back from Kafka) keeps both out.
    assert (second["plain"]["status"], second["plain"]["already_seen"]) == (200, 2)


def test_indexed_bodies_are_the_pages_text_without_navigation_or_scripts(passes, service, es_client) -> None:  # noqa: ANN001
    story = indexed(service, es_client, "wire")["Wire story 1"]
    for paragraph in paragraphs_about("Harbour plan 1"):
        assert paragraph in story["body"]
    assert not [marker for marker in BOILERPLATE_MARKERS if marker in story["body"] + story["title"]]
    assert story["language"] == "en"
    assert story["metadata"] == {"feed": story["metadata"]["feed"], "author": "Jane Reporter",
                                 "language_hint": "en", "extracted": True}


def test_status_shows_each_source_and_its_error(passes, feeds: Feeds) -> None:  # noqa: ANN001
    states = {state["source"]: state for state in feeds.cli_json("status")}
    assert set(states) == {"wire", "desk", "broken", "refused", "plain"}
    assert states["wire"]["validators"]["etag"] == '"wire-1"'
    assert states["wire"]["last_report"]["not_modified"] is True
    assert states["broken"]["last_report"]["error"] == "HTTP 500 Internal Server Error (2 tries)"
    assert states["broken"]["last_success_at"] is None
    assert states["refused"]["last_report"]["status"] is None
    assert states["refused"]["last_report"]["error"].startswith("cannot fetch")
    table = feeds.cli("status")
    broken_row = next(line for line in table.stdout.decode().splitlines() if " broken " in line)
    assert table.returncode == 0 and "HTTP 500 Internal Server Error" in broken_row and "never" in broken_row


def test_run_polls_until_ctrl_c_and_exits_cleanly(passes, feeds: Feeds, tmp_path: Path) -> None:  # noqa: ANN001
    plain_only = tmp_path / "plain.toml"
    plain_only.write_text(f'[sources.plain]\nurl = "{feeds.server.url("/plain.rss")}"\ninterval_s = 1\n')
    before = len(feeds.server.requests_for("/plain.rss"))
    log = tmp_path / "run.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "newsstream.cli.feeds", "run", "--sources", str(plain_only)],
                                   env=feeds.env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while len(feeds.server.requests_for("/plain.rss")) < before + 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(feeds.server.requests_for("/plain.rss")) >= before + 2, log.read_text()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
    output = log.read_text()
    assert "plain: 2 entries, 0 new, sent 0" in output
    assert output.rstrip().endswith("stopped")
