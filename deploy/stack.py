"""The whole local stack, one node each or a cluster of each: Kafka and Elasticsearch up, down and
status together."""
from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from deploy import artifacts, elasticsearch, kafka
from deploy.console import say
from deploy.status import ServiceStatus
from deploy.config import StackConfig


@contextmanager
def _exclusive(config: StackConfig) -> Iterator[None]:
    """One `up` or `down` at a time per state dir (parallel test sessions, a second terminal)."""
    lock_file = config.profile_dir / "run" / "stack.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("stack: another `stack up`/`down` is running on this state dir; waiting for it…")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(config: StackConfig) -> list[ServiceStatus]:
    """Fetch what is missing, start what is not running, wait until both answer.

    Services already running are left alone, so calling it again is harmless. The product's
    topics and indices are created by `newsstream setup` (which `stack up` runs too).
    """
    with _exclusive(config):
        # A missing JDK fails before any download; downloads are not counted in a service's start time.
        kafka.jdk(config)
        elasticsearch.jdk(config)
        artifacts.kafka_libs(config)
        artifacts.elasticsearch_home(config)
        # One after the other: on two cores, starting both JVMs at once took 21 s against 14 s in turn.
        kafka.start(config)
        elasticsearch.start(config)
    return status(config)


def down(config: StackConfig) -> None:
    """Stop every node of both services (SIGTERM, then SIGKILL after config.stack_stop_timeout_s),
    leaving no process behind."""
    with _exclusive(config):
        elasticsearch.stop(config)
        kafka.stop(config)


def status(config: StackConfig) -> list[ServiceStatus]:
    """Every node of both services."""
    return [*kafka.status(config), *elasticsearch.status(config)]
