"""Compression codecs compared on real articles: bytes the broker stores, producer and consumer CPU.

Each codec produces the same articles to a topic of its own through the project's producer
factory; the bytes are the sizes of the broker's log segments for that topic (the local stack's
data directory), the CPU times are this process's (all threads) while producing and while an
aiokafka consumer, as the worker uses, reads the topic back.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic

from clients.kafka import Compression, KafkaClientConfig, make_producer

CODECS: tuple[Compression, ...] = ("none", "gzip", "snappy", "lz4", "zstd")


@dataclass(frozen=True)
class CodecFigures:
    codec: str
    articles: int
    stored_bytes: int
    produce_cpu_s: float
    consume_cpu_s: float


def _stored_bytes(kafka_data_dir: Path, topic: str) -> int:
    return sum(path.stat().st_size for path in kafka_data_dir.glob(f"{topic}-*/*.log"))


async def _consume_all(config: KafkaClientConfig, topic: str, expected: int) -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=config.bootstrap_servers, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        seen, started = 0, time.process_time()
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=2000)
            seen += sum(len(records) for records in batches.values())
        return time.process_time() - started
    finally:
        await consumer.stop()


def measure_codec(config: KafkaClientConfig, kafka_data_dir: Path, payloads: Sequence[tuple[bytes, bytes]],
                  codec: Compression) -> CodecFigures:
    topic = f"measure-codec-{codec}-{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=config.bootstrap_servers)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    try:
        producer = make_producer(replace(config, compression=codec))
        started = time.process_time()
        futures = [producer.send(topic, key=key, value=value) for key, value in payloads]
        producer.flush()
        for future in futures:
            future.get(timeout=60)
        produce_cpu = time.process_time() - started
        producer.close()
        consume_cpu = asyncio.run(_consume_all(config, topic, len(payloads)))
        time.sleep(1)  # the broker appends asynchronously to its page cache; sizes settle at once
        return CodecFigures(codec, len(payloads), _stored_bytes(kafka_data_dir, topic), produce_cpu, consume_cpu)
    finally:
        admin.delete_topics([topic])
        admin.close()


def measure_codecs(config: KafkaClientConfig, kafka_data_dir: Path, payloads: Sequence[tuple[bytes, bytes]],
                   repeats: int = 3) -> list[CodecFigures]:
    """The median of `repeats` runs per codec (CPU times are noisy on a shared machine)."""
    results = []
    for codec in CODECS:
        runs = sorted((measure_codec(config, kafka_data_dir, payloads, codec) for _ in range(repeats)),
                      key=lambda figures: figures.produce_cpu_s)
        middle = runs[len(runs) // 2]
        consume = sorted(run.consume_cpu_s for run in runs)[len(runs) // 2]
        results.append(replace(middle, consume_cpu_s=consume))
    return results


def render_codecs(results: Sequence[CodecFigures]) -> str:
    none = next(r for r in results if r.codec == "none")
    lines = ["| codec | KB per 1,000 articles | × none | producer CPU ms / 1,000 | consumer CPU ms / 1,000 |",
             "|---|---|---|---|---|"]
    for r in results:
        per_k = 1000 / r.articles
        lines.append(f"| {r.codec} | {r.stored_bytes * per_k / 1024:,.0f} | {r.stored_bytes / none.stored_bytes:.2f} "
                     f"| {r.produce_cpu_s * per_k * 1000:,.0f} | {r.consume_cpu_s * per_k * 1000:,.0f} |")
    return "\n".join(lines)
