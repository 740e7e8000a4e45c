"""The index stage: enriched articles as Elasticsearch documents, written in bulk by id."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from schemas import EnrichedArticle

# Entity names are denormalised into keyword fields so filters and facets need no nested queries.
ENTITY_FIELDS = {"person": "persons", "location": "locations", "organization": "organizations", "misc": "misc"}


def article_document(article: EnrichedArticle) -> dict[str, Any]:
    document = article.model_dump(mode="json")
    for label, field in ENTITY_FIELDS.items():
        document[field] = article.entity_names(label)  # type: ignore[arg-type]
    return document


def article_from_document(source: dict[str, Any]) -> EnrichedArticle:
    return EnrichedArticle.model_validate(source)


def bulk_actions(articles: Iterable[EnrichedArticle], index: str) -> Iterator[dict[str, Any]]:
    """`index` actions keyed by article id: reprocessing an article overwrites, never duplicates."""
    for article in articles:
        yield {"_op_type": "index", "_index": index, "_id": article.id, "_source": article_document(article)}
