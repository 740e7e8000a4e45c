"""The whole local stack: Kafka and Elasticsearch up, down and status together."""
from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from deploy import artifacts, elasticsearch, kafka
from deploy.console import say
from deploy.status import ServiceStatus
from newsstream.settings import Settings, get_settings


@contextmanager
def _exclusive(settings: Settings) -> Iterator[None]:
    """One `up` or `down` at a time per state dir (parallel test sessions, a second terminal)."""
    lock_file = settings.state_dir / "run" / "stack.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("stack: another `stack up`/`down` is running on this state dir; waiting for it…")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(settings: Settings | None = None) -> list[ServiceStatus]:
    """Fetch what is missing, start what is not running, wait until both answer, create the topics.

    Services already running are left alone, so calling it again is harmless.
    """
    settings = settings or get_settings()
    with _exclusive(settings):
        # A missing JDK fails before any download; downloads are not counted in a service's start time.
        kafka.jdk(settings)
        elasticsearch.jdk(settings)
        artifacts.kafka_libs(settings)
        artifacts.elasticsearch_home(settings)
        # One after the other: on two cores, starting both JVMs at once took 21 s against 14 s in turn.
        kafka.start(settings)
        kafka.ensure_topics(settings)
        elasticsearch.start(settings)
    return status(settings)


def down(settings: Settings | None = None) -> None:
    """Stop both services (SIGTERM, then SIGKILL after settings.stack_stop_timeout_s), leaving no process behind."""
    settings = settings or get_settings()
    with _exclusive(settings):
        elasticsearch.stop(settings)
        kafka.stop(settings)


def status(settings: Settings | None = None) -> list[ServiceStatus]:
    settings = settings or get_settings()
    return [kafka.status(settings), elasticsearch.status(settings)]
