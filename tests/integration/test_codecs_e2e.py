"""Interoperability with an independent Kafka client: Debian's kcat (librdkafka) produces articles
with every codec Kafka has; each is indexed exactly once. A batch the worker cannot decode becomes
dead letters with the reason, and the worker goes on."""
from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest

from clients.kafka import read_topic
from schemas import DeadLetter
from tests.integration.conftest import stop, wait_for

pytestmark = pytest.mark.integration

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
KCAT = shutil.which("kcat")


def kcat_produce(service, codec: str, articles: list[dict], partition: int = 0) -> None:  # noqa: ANN001
    """One kcat run into one partition: one record batch, compressed with `codec`, keyed, with a header."""
    assert KCAT, "kcat is not installed (`make test` installs Debian's kcat)"
    lines = "".join(f"{article['id']}\t{json.dumps(article)}\n" for article in articles)
    subprocess.run([KCAT, "-P", "-b", service.settings.kafka_bootstrap_servers, "-t", service.settings.topic_raw,
                    "-p", str(partition), "-z", codec, "-K", "\t", "-H", f"producer=kcat-{codec}", "-X", "linger.ms=200"],
                   input=lines.encode(), check=True, timeout=60)


def article(codec: str, run: str, n: int = 0) -> dict:
    return {"id": f"kcat-{run}-{codec}-{n}", "source": "kcat wire",
            "title": f"Sanctions package number {n} agreed ({codec})",
            "body": f"European ministers agreed a new sanctions package on Monday. Sent by kcat with {codec}. " * 20}


def indexed_ids(service, es) -> set[str]:  # noqa: ANN001
    es.indices.refresh(index=service.settings.index_articles)
    hits = es.search(index=service.settings.index_articles, query={"prefix": {"id": "kcat-"}}, size=1000, _source=False)
    return {hit["_id"] for hit in hits["hits"]["hits"]}


def dead_letters(service) -> list[DeadLetter]:  # noqa: ANN001
    return [DeadLetter.model_validate_json(r.value) for r in read_topic(service.settings.kafka, service.settings.topic_deadletter)]


def test_every_codec_from_kcat_is_indexed_exactly_once(service, es_client) -> None:  # noqa: ANN001
    run = uuid.uuid4().hex[:6]
    worker = service.start_worker()
    try:
        expected = set()
        for codec in CODECS:
            batch = [article(codec, run, n) for n in range(3)]
            kcat_produce(service, codec, batch, partition=CODECS.index(codec) % service.settings.topic_partitions)
            expected |= {a["id"] for a in batch}
        found = wait_for(lambda: indexed_ids(service, es_client) >= expected or None, timeout_s=180)
        assert found, f"missing: {sorted(expected - indexed_ids(service, es_client))}"
        count = es_client.count(index=service.settings.index_articles, query={"prefix": {"id": f"kcat-{run}"}})
        assert count["count"] == len(expected) == 15
        assert worker.poll() is None, "the worker stopped"
    finally:
        stop(worker)


def test_a_batch_the_worker_cannot_decode_becomes_dead_letters_and_the_worker_goes_on(service, es_client) -> None:  # noqa: ANN001
    run = uuid.uuid4().hex[:6]
    # The worker runs without cramjam, so it cannot decode snappy, lz4 or zstd: a library missing on
    # the consumer's side only, which is how such a batch gets past the broker in real life.
    worker = service.start_worker("import sys; sys.modules['cramjam'] = None", NEWSSTREAM_KAFKA_COMPRESSION="gzip")
    try:
        kcat_produce(service, "snappy", [article("snappy", run, n) for n in range(2)])
        after = article("gzip", run)
        kcat_produce(service, "gzip", [after])
        assert wait_for(lambda: after["id"] in indexed_ids(service, es_client), timeout_s=180), "the next batch was not indexed"
        letters = wait_for(lambda: [d for d in dead_letters(service) if d.stage == "decode"] or None)
        assert letters and len(letters) == 2
        first = min(letter.offset for letter in letters)
        assert sorted((letter.partition, letter.offset) for letter in letters) == [(0, first), (0, first + 1)]
        assert all("undecodable record batch" in d.error and "compression snappy" in d.error for d in letters)
        assert worker.poll() is None, "the worker stopped"
        with open(service.log, encoding="utf-8", errors="replace") as log:
            assert "Crashed" not in log.read()
    finally:
        stop(worker)
