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
        return subprocess.run([sys.executable, "-m", "newsstream.cli", *args], env=self.env, input=input,
                              capture_output=True, timeout=timeout, check=False)

    def cli_json(self, *args: str, timeout: float = 120):
        done = self.cli(*args, "--json", timeout=timeout)
        assert done.returncode == 0, done.stderr.decode()
        return json.loads(done.stdout)

    def start_worker(self) -> subprocess.Popen:
        handle = open(self.log, "ab")
        # Its own session, so a test can kill the worker together with its NLP pool processes.
        return subprocess.Popen([sys.executable, "-m", "newsstream.cli", "worker"], env=self.env,
                                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)

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
    from deploy.kafka import ensure_topics
    from processors.index import ensure_article_index

    run = uuid.uuid4().hex[:8]
    overrides = {
        "topic_raw": f"test-{run}.articles.raw",
        "topic_deadletter": f"test-{run}.articles.deadletter",
        "topic_alerts": f"test-{run}.alerts",
        "topic_rules": f"test-{run}.alerts.rules",
        "index_articles": f"test-{run}-articles",
        "index_alerts": f"test-{run}-alerts",
        "index_rules": f"test-{run}-alert-rules",
        "worker_app_id": f"test-{run}-worker",
        "nlp_processes": 1,
    }
    settings = Settings(**overrides)
    env = {**os.environ, **{f"NEWSSTREAM_{key.upper()}": str(value) for key, value in overrides.items()}}
    ensure_topics(settings)
    ensure_article_index(es_client, settings.index_articles)
    yield Service(env=env, settings=settings, log=tmp_path_factory.mktemp("logs") / "worker.log")
    for index in (settings.index_articles, settings.index_alerts, settings.index_rules):
        es_client.options(ignore_status=404).indices.delete(index=index)
    delete_topics(settings)


def delete_topics(settings: Settings) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        admin.delete_topics([settings.topic_raw, settings.topic_deadletter, settings.topic_alerts, settings.topic_rules])
    finally:
        admin.close()
