"""API tests serve the real app with uvicorn on a free local port and call it over HTTP, against
the real Kafka and Elasticsearch, each test module on the isolated topics and indices of the
`service` fixture (tests/integration/conftest.py)."""
from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from ingest.readers import InputError, read_articles
from newsstream.api.app import create_api
from newsstream.api.server import ApiServer
from newsstream.settings import PROJECT_ROOT, Settings
from schemas import RawArticle
from tests.integration.conftest import SHARED, service, stop, wait_for  # noqa: F401 - `service` is a fixture

WRITE_KEY = "test-write-key"
SAMPLES = PROJECT_ROOT / "samples" / "articles.jsonl"
SEED = SHARED / "samples" / "seed-wire-dump.txt"


@contextmanager
def serve_app(app: FastAPI, **options: Any) -> Iterator[str]:
    """`app` served as `newsstream api` serves it (ApiServer, `options` passed on), in a thread;
    yields its base URL."""
    server = ApiServer(app, host="127.0.0.1", port=0, log_level="warning", **options)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped before it started"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.handle_exit(signal.SIGTERM, None)
        thread.join(timeout=30)


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """`create_api(settings)` served as `newsstream api` serves it, in a thread; yields its base URL."""
    with serve_app(create_api(settings)) as url:
        yield url


def with_keys(settings: Settings, write: str | None = WRITE_KEY, read: str | None = None) -> Settings:
    return settings.model_copy(update={"api_key": SecretStr(write) if write else None,
                                       "api_read_key": SecretStr(read) if read else None})


@pytest.fixture(scope="module")
def api_url(service) -> Iterator[str]:  # noqa: ANN001
    with serve(with_keys(service.settings)) as url:
        yield url


@pytest.fixture
def client(api_url: str) -> Iterator[httpx.Client]:
    """Sends the write key, as an analyst's tool would."""
    with httpx.Client(base_url=api_url, headers={"X-API-Key": WRITE_KEY}, timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def worker(service):  # noqa: ANN001
    process = service.start_worker()
    yield process
    stop(process)


def articles_from(*paths: Path) -> list[RawArticle]:
    articles = []
    for path in paths:
        with open(path, encoding="utf-8") as stream:
            articles += [item for item in read_articles(stream, name=str(path)) if not isinstance(item, InputError)]
    return articles


def seed_articles() -> list[RawArticle]:
    """The shared seed when there is one, else the shipped samples."""
    return articles_from(SEED if SEED.is_file() else SAMPLES)


def as_json(articles: list[RawArticle]) -> list[dict]:
    return [orjson.loads(article.model_dump_json(exclude_none=True)) for article in articles]


class EventStream:
    """Server-sent events read in a thread, so a test can wait for one with a deadline."""

    def __init__(self, url: str, params: dict | None = None, headers: dict | None = None) -> None:
        self.events: queue.Queue[tuple[str, str]] = queue.Queue()
        self.status: int | None = None
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        self._opened = threading.Event()
        self.ended = threading.Event()  # the server closed the stream (or the test did)
        self._thread = threading.Thread(target=self._read, args=(url, params, headers), daemon=True)
        self._thread.start()
        self._opened.wait(timeout=30)

    def _read(self, url: str, params: dict | None, headers: dict | None) -> None:
        try:
            with self._client.stream("GET", url, params=params, headers=headers) as response:
                self.status = response.status_code
                self._opened.set()
                event, data = "message", []
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line.removeprefix("event:").strip()
                    elif line.startswith("data:"):
                        data.append(line.removeprefix("data:").strip())
                    elif line == "" and data:
                        self.events.put((event, "\n".join(data)))
                        event, data = "message", []
        except httpx.HTTPError:
            pass  # closed by the test
        finally:
            self._opened.set()
            self.ended.set()

    def next(self, event: str, timeout_s: float = 60) -> dict | None:
        """The data of the next event of this type, or None if none came in time."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                kind, data = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if kind == event:
                return orjson.loads(data)
        return None

    def close(self) -> None:
        self._client.close()
