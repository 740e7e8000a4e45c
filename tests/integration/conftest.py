"""Integration tests run against the real Kafka and Elasticsearch of the local stack, each test
module on its own topics, index and consumer group so that runs never see each other's data."""
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

from newsstream.settings import PROJECT_ROOT, Settings

SHARED = PROJECT_ROOT.parent / "shared"


@dataclass
class Service:
    """Settings (as environment) for one isolated run of the service, and a way to call its CLI."""

    env: dict[str, str]
    settings: Settings
    log: Path

    def cli(self, *args: str, input: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return self.cli_with_env(self.env, *args, input=input, timeout=timeout)

    def cli_with_env(self, env: dict[str, str], *args: str, input: bytes | None = None,
                     timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "newsstream.cli", *args], env=env, input=input,
                              capture_output=True, timeout=timeout, check=False)

    def cli_json(self, *args: str, timeout: float = 120):
        done = self.cli(*args, "--json", timeout=timeout)
        assert done.returncode == 0, done.stderr.decode()
        return json.loads(done.stdout)

    def start_worker(self, prelude: str = "", **env: str) -> subprocess.Popen:
        """`newsstream worker`, after `prelude` (Python run first in its interpreter) with `env` added."""
        handle = open(self.log, "ab")
        command = [sys.executable, "-c", f"{prelude}\nfrom newsstream.cli import app\napp(['worker'])"]
        # Its own session, so a test can kill the worker together with its NLP pool processes.
        return subprocess.Popen(command, env={**self.env, **env}, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def indexed_count(self, es) -> int:  # noqa: ANN001
        es.indices.refresh(index=self.settings.index_articles)
        return es.count(index=self.settings.index_articles)["count"]

    def wait_for_count(self, es, expected: int, timeout_s: float = 180) -> int:  # noqa: ANN001
        from elastic_transport import ConnectionError as ElasticsearchUnreachable

        deadline, count = time.monotonic() + timeout_s, -1
        while time.monotonic() < deadline:
            try:
                count = self.indexed_count(es)
            except ElasticsearchUnreachable:  # tests that restart Elasticsearch wait through it
                count = -1
            if count >= expected:
                return count
            time.sleep(0.5)
        return count


def wait_for(condition, timeout_s: float = 90, every_s: float = 0.3):  # noqa: ANN001
    """The condition's first truthy value, or its last value when time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every_s)
    return condition()


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(process)


def kill(process: subprocess.Popen) -> None:
    """kill -9 the worker and everything it started, as a crash would."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@pytest.fixture(scope="module")
def service(stack, es_client, tmp_path_factory) -> Iterator[Service]:  # noqa: ANN001
    from newsstream.measure.lanes import open_lane, remove_run

    run = uuid.uuid4().hex[:8]
    # The tests' webhook receivers and feed servers listen on loopback, which only an allow-list
    # entry opens to outbound requests.
    lane = open_lane(run, "test", es_client, tmp_path_factory.mktemp("logs"), nlp_processes=1,
                     outbound_allow="127.0.0.1")
    yield Service(env=lane.env, settings=lane.settings, log=lane.log)
    remove_run(run, lane.settings, es_client)
