"""The index stage: enriched articles as Elasticsearch documents, written in bulk by id."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from processors.names import fold, name_keys
from schemas import EnrichedArticle
from schemas.entities import EntityName, entity_name_id

# Entity names and ids are denormalised into keyword fields so filters and facets need no nested
# queries: canonical names by label, ids by label (what facets count), and all ids together.
ENTITY_FIELDS = {"person": "persons", "location": "locations", "organization": "organizations", "misc": "misc"}
ENTITY_ID_FIELDS = {"person": "person_ids", "location": "location_ids", "organization": "organization_ids",
                    "misc": "misc_ids"}


def entity_keys(article: EnrichedArticle) -> list[str]:
    """The name keys of every spelling the article uses, and of persons' surnames: a filter on a
    name the knowledge base does not know still finds the articles that spell it another way."""
    spellings = {spelling for entity in article.entities for spelling in (entity.text, *entity.aliases)}
    spellings |= {entity.text.rsplit(" ", 1)[-1] for entity in article.entities if entity.label == "person"}
    return sorted({key for spelling in spellings for key in name_keys(spelling, article.language)})


def article_document(article: EnrichedArticle) -> dict[str, Any]:
    document = article.model_dump(mode="json")
    for label, field in ENTITY_FIELDS.items():
        document[field] = article.entity_names(label)  # type: ignore[arg-type]
        document[ENTITY_ID_FIELDS[label]] = article.entity_ids(label)  # type: ignore[arg-type]
    document["entity_ids"] = article.entity_ids()
    document["entity_keys"] = entity_keys(article)
    return document


def article_from_document(source: dict[str, Any]) -> EnrichedArticle:
    return EnrichedArticle.model_validate(source)


def bulk_actions(articles: Iterable[EnrichedArticle], index: str) -> Iterator[dict[str, Any]]:
    """`index` actions keyed by article id: reprocessing an article overwrites, never duplicates."""
    for article in articles:
        yield {"_op_type": "index", "_index": index, "_id": article.id, "_source": article_document(article)}


def entity_names(article: EnrichedArticle) -> Iterator[EntityName]:
    """The article's sightings of its entities: each spelling, in the article's language."""
    seen = article.processed_at
    for entity in article.entities:
        for spelling in dict.fromkeys((entity.text, *entity.aliases)):
            yield EntityName(
                id=entity_name_id(entity.id, spelling, article.language), entity_id=entity.id, label=entity.label,
                name=entity.name or entity.text, spelling=spelling, folded=fold(spelling),
                language=article.language, first_seen=seen, first_article=article.id,
            )


def entity_name_actions(names: Iterable[EntityName], index: str) -> Iterator[dict[str, Any]]:
    """`create` actions: the first sighting stays; a conflict is a spelling seen before."""
    for name in names:
        yield {"_op_type": "create", "_index": index, "_id": name.id, "_source": name.model_dump(mode="json")}

