"""Produce-to-alert latency on the real stack, with N rules registered: how long after an
article is produced its alert can be read from the `alerts` topic, and (`mail=True`, every rule
mailing a local SMTP server through the worker's mail channel) how long until its mail arrives."""
from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.console import say
from clients.elasticsearch import make_client
from clients.kafka import follow_topic, make_producer
from ingest.producer import encode_article
from newsstream.measure.bench import copies
from newsstream.measure.bench_alerts import generate_rules, load_corpus_rows
from newsstream.measure.lanes import Lane, open_lane, remove_run, service_workers
from newsstream.measure.mailbox import Mailbox
from processors.notifications import ALERT_HEADER
from newsstream.settings import Settings


def _publish_rules(lane: Lane, rules: list) -> None:  # noqa: ANN001
    producer = make_producer(lane.settings.kafka, linger_ms=50)
    for rule in rules:
        producer.send(lane.settings.topic_rules, key=rule.name.encode(), value=rule.model_dump_json().encode())
    producer.flush()
    producer.close()


@dataclass
class Latencies:
    topic_ms: list[float]  # per article: produced to its first alert on the topic
    first_mail_ms: list[float]  # per article: produced to its first alert's mail received
    mail_ms: list[float]  # per mail: its article produced to it received


def _measure(lane: Lane, articles: list, rate: float, settle_s: float,  # noqa: ANN001
             mailbox: Mailbox | None = None) -> Latencies:
    import orjson

    producer = make_producer(lane.settings.kafka)
    produced: dict[str, float] = {}
    first_alert: dict[str, float] = {}
    article_of: dict[str, str] = {}  # alert id -> article id
    mails_before = len(mailbox.messages) if mailbox else 0
    with follow_topic(lane.settings.kafka, lane.settings.topic_alerts) as poll:
        def drain(timeout_ms: int) -> None:
            records = poll(timeout_ms)
            now = time.monotonic()
            for record in records:
                alert = orjson.loads(record.value)
                first_alert.setdefault(alert["article_id"], now)
                article_of[alert["id"]] = alert["article_id"]

        for article in articles:
            produced[article.id] = time.monotonic()
            producer.send(lane.settings.topic_raw, key=article.id.encode(), value=encode_article(article))
            producer.flush()
            drain(int(1000 / rate))
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            drain(200)
    producer.close()
    mails: list[tuple[str, float]] = []
    if mailbox:
        received = zip(mailbox.messages[mails_before:], mailbox.received_at[mails_before:], strict=True)
        mails = [(article_of[m[ALERT_HEADER]], at) for m, at in received if m[ALERT_HEADER] in article_of]
    first_mail: dict[str, float] = {}
    for article_id, at in mails:
        first_mail[article_id] = min(at, first_mail.get(article_id, at))
    return Latencies([(first_alert[i] - produced[i]) * 1000 for i in produced if i in first_alert],
                     [(at - produced[i]) * 1000 for i, at in first_mail.items() if i in produced],
                     [(at - produced[i]) * 1000 for i, at in mails if i in produced])


def _summary(values: list[float]) -> dict[str, float | int | None]:
    ordered = sorted(values)
    return {"count": len(ordered), "median_ms": round(statistics.median(ordered), 1) if ordered else None,
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1) if ordered else None}


def run_alert_latency(settings: Settings, rule_counts: tuple[int, ...] = (100, 10_000), articles: int = 60,
                      rate: float = 4.0, mail: bool = False) -> dict[str, dict[str, Any]]:
    """Per rule count: median and p99 produce-to-alert ms over the articles that alerted; with
    `mail`, also produce to the first mail per article and to every mail."""
    es = make_client(settings.elasticsearch)
    run = uuid.uuid4().hex[:8]
    rows = load_corpus_rows()
    rules = generate_rules(max(rule_counts), rows, seed=1)
    result: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as logs, (Mailbox() if mail else nullcontext()) as mailbox:
        # The worker mails the local server as it would a real one: STARTTLS is off, and the guard
        # lets it through only because it is allow-listed.
        mailing = {"smtp_host": "127.0.0.1", "smtp_port": mailbox.port, "smtp_starttls": False,
                   "smtp_from": "bench@newsstream.example", "outbound_allow": f"127.0.0.1:{mailbox.port}"
                   } if mailbox else {}
        if mailbox:
            rules = [rule.model_copy(update={"email": ["desk@newsstream.example"]}) for rule in rules]
        try:
            for count in rule_counts:
                lane = open_lane(run, f"alerts{count}", es, Path(logs), **mailing)
                _publish_rules(lane, rules[:count])
                with service_workers(lane, 1):
                    say(f"bench: {count} rules: warming the worker up…")
                    _measure(lane, copies(rows, 8, f"warm{count}-"), rate, settle_s=60)
                    say(f"bench: {count} rules: {articles} articles at {rate}/s…")
                    measured = _measure(lane, copies(rows, articles, f"m{count}-"), rate,
                                        settle_s=30 if mailbox else 10, mailbox=mailbox)
                topic = _summary(measured.topic_ms)
                result[str(count)] = {"articles": articles, "alerted": topic["count"], "median_ms": topic["median_ms"],
                                      "p99_ms": topic["p99_ms"]}
                if mailbox:
                    result[str(count)] |= {"first_mail": _summary(measured.first_mail_ms),
                                           "every_mail": _summary(measured.mail_ms)}
        finally:
            remove_run(run, settings, es)
    return result
