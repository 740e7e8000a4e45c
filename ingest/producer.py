"""Producing raw articles to `articles.raw` with kafka-python: acks=all, idempotent, keyed by id."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import orjson
from kafka import KafkaProducer

from newsstream.settings import Settings
from schemas import RawArticle


def article_producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        # Rides out a broker restart: keep retrying delivery for two minutes before giving up.
        delivery_timeout_ms=120_000,
        retry_backoff_ms=200,
        linger_ms=20,
        compression_type="gzip",
        max_request_size=8 * 1024 * 1024,
    )


def encode_article(article: RawArticle) -> bytes:
    return orjson.dumps(article.model_dump(mode="json", exclude_none=True))


def produce_articles(
    producer: KafkaProducer,
    topic: str,
    articles: Iterable[RawArticle],
    on_sent: Callable[[RawArticle], None] = lambda _: None,
) -> list[str]:
    """Sends every article (key = its stable id) and waits until all are acknowledged."""
    sent = []
    for article in articles:
        future = producer.send(topic, key=article.id.encode(), value=encode_article(article))
        future.add_callback(lambda _metadata, article=article: on_sent(article))
        sent.append((article.id, future))
    producer.flush()
    for _, future in sent:
        future.get(timeout=60)  # raises the delivery error, if any
    return [article_id for article_id, _ in sent]
