"""Producing raw articles to `articles.raw` with kafka-python: acks=all, idempotent, keyed by id."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import orjson
from kafka import KafkaProducer

from schemas import RawArticle


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
