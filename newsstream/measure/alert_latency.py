"""Produce-to-alert latency on the real stack, with N rules registered: how long after an
article is produced its alert can be read from the `alerts` topic."""
from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from deploy.console import say
from clients.elasticsearch import make_client
from clients.kafka import follow_topic, make_producer
from ingest.producer import encode_article
from newsstream.measure.bench import copies
from newsstream.measure.bench_alerts import generate_rules, load_corpus_rows
from newsstream.measure.lanes import Lane, open_lane, remove_run, service_workers
from newsstream.settings import Settings


def _publish_rules(lane: Lane, rules: list) -> None:  # noqa: ANN001
    producer = make_producer(lane.settings.kafka, linger_ms=50)
    for rule in rules:
        producer.send(lane.settings.topic_rules, key=rule.name.encode(), value=rule.model_dump_json().encode())
    producer.flush()
    producer.close()


def _measure(lane: Lane, articles: list, rate: float, settle_s: float) -> list[float]:  # noqa: ANN001
    import orjson

    producer = make_producer(lane.settings.kafka)
    produced: dict[str, float] = {}
    first_alert: dict[str, float] = {}
    with follow_topic(lane.settings.kafka, lane.settings.topic_alerts) as poll:
        def drain(timeout_ms: int) -> None:
            records = poll(timeout_ms)
            now = time.monotonic()
            for record in records:
                first_alert.setdefault(orjson.loads(record.value)["article_id"], now)

        for article in articles:
            produced[article.id] = time.monotonic()
            producer.send(lane.settings.topic_raw, key=article.id.encode(), value=encode_article(article))
            producer.flush()
            drain(int(1000 / rate))
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            drain(200)
    producer.close()
    return [(first_alert[i] - produced[i]) * 1000 for i in produced if i in first_alert]


def run_alert_latency(settings: Settings, rule_counts: tuple[int, ...] = (100, 10_000), articles: int = 60,
                      rate: float = 4.0) -> dict[str, dict[str, Any]]:
    """Per rule count: median and p99 produce-to-alert ms over the articles that alerted."""
    es = make_client(settings.elasticsearch)
    run = uuid.uuid4().hex[:8]
    rows = load_corpus_rows()
    rules = generate_rules(max(rule_counts), rows, seed=1)
    result: dict[str, dict[str, Any]] = {}
    try:
        with tempfile.TemporaryDirectory() as logs:
            for count in rule_counts:
                lane = open_lane(run, f"alerts{count}", es, Path(logs))
                _publish_rules(lane, rules[:count])
                with service_workers(lane, 1):
                    say(f"bench: {count} rules: warming the worker up…")
                    _measure(lane, copies(rows, 8, f"warm{count}-"), rate, settle_s=60)
                    say(f"bench: {count} rules: {articles} articles at {rate}/s…")
                    latencies = sorted(_measure(lane, copies(rows, articles, f"m{count}-"), rate, settle_s=10))
                result[str(count)] = {
                    "articles": articles, "alerted": len(latencies),
                    "median_ms": round(statistics.median(latencies), 1) if latencies else None,
                    "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1)
                    if latencies else None,
                }
    finally:
        remove_run(run, settings, es)
    return result
