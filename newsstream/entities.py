"""Entities as the service has seen them: autocomplete by any spelling (the entities index), one
entity's view — its names by language, articles per day, the entities named beside it (the
articles index), merged with what the knowledge base knows — and the corrections people make
(merge, split), applied to past articles here and to new ones by every worker."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Literal

from elasticsearch.helpers import bulk, scan
from pydantic import BaseModel

from processors.index import article_document, article_from_document, entity_name_actions, entity_names
from processors.knowledge import KnowledgeBase, kb_key
from processors.linking import MAX_CORRECTIONS, Corrections, relinked
from processors.names import fold
from schemas.articles import EnrichedArticle
from schemas.entities import EntityCorrection, EntityName

CO_OCCURRING = 10
SPELLINGS_PER_LANGUAGE = 20
RELINK_ATTEMPTS = 3  # passes over articles a worker rewrote while they were relinked
RELINK_BATCH = 500  # articles per bulk request
REBUILD_BATCH = 5_000  # spellings per bulk request


class EntitySuggestion(BaseModel):
    id: str
    name: str
    label: str
    spelling: str  # the spelling the prefix matched


class EntityCount(BaseModel):
    id: str
    name: str
    label: str | None = None
    count: int


class DayCount(BaseModel):
    day: date
    count: int


class EntityView(BaseModel):
    id: str
    name: str
    label: str | None
    known: bool  # in the knowledge base
    names: dict[str, list[str]]  # language -> spellings seen (and the knowledge base's name)
    articles: int
    per_day: list[DayCount]
    co_occurring: list[EntityCount]


def suggest_entities(es: Any, index: str, prefix: str, size: int = 10) -> list[EntitySuggestion]:
    """Entities whose spelling, in any language, starts with `prefix` (accents and case ignored);
    exact spellings first, one suggestion per entity."""
    folded = fold(prefix)
    if not folded or not es.indices.exists(index=index):
        return []
    response = es.search(index=index, size=size, query={"bool": {
        "filter": [{"prefix": {"folded": folded}}],
        "should": [{"term": {"folded": {"value": folded, "boost": 10}}}],
    }}, collapse={"field": "entity_id"}, sort=["_score", {"folded": "asc"}])
    return [EntitySuggestion(id=hit["_source"]["entity_id"], name=hit["_source"]["name"],
                             label=hit["_source"]["label"], spelling=hit["_source"]["spelling"])
            for hit in response["hits"]["hits"]]


def entity_names_by_id(es: Any, index: str, ids: list[str]) -> dict[str, tuple[str, str]]:
    """(canonical name, label) of each id the entities index holds."""
    if not ids or not es.indices.exists(index=index):
        return {}
    response = es.search(index=index, size=len(ids), query={"terms": {"entity_id": ids}},
                         collapse={"field": "entity_id"}, _source=["entity_id", "name", "label"])
    return {hit["_source"]["entity_id"]: (hit["_source"]["name"], hit["_source"]["label"])
            for hit in response["hits"]["hits"]}


def entity_view(es: Any, articles_index: str, entities_index: str, entity_id: str,
                kb: KnowledgeBase | None = None) -> EntityView | None:
    """None when neither the knowledge base nor any article knows the id."""
    known = kb.get(entity_id) if kb is not None else None
    names: dict[str, set[str]] = {language: {name} for language, name in (known.names.items() if known else ())}
    name, label = (known.name, known.label) if known else (None, None)
    if es.indices.exists(index=entities_index):
        response = es.search(index=entities_index, size=1, query={"term": {"entity_id": entity_id}}, aggs={
            "languages": {"terms": {"field": "language", "size": 50},
                          "aggs": {"spellings": {"terms": {"field": "spelling", "size": SPELLINGS_PER_LANGUAGE}}}}})
        for bucket in response["aggregations"]["languages"]["buckets"]:
            names.setdefault(bucket["key"], set()).update(b["key"] for b in bucket["spellings"]["buckets"])
        if response["hits"]["hits"] and name is None:
            source = response["hits"]["hits"][0]["_source"]
            name, label = source["name"], source["label"]
    response = es.search(index=articles_index, size=0, track_total_hits=True,
                         query={"term": {"entity_ids": entity_id}}, aggs={
        "per_day": {"date_histogram": {"field": "published_at", "calendar_interval": "day", "min_doc_count": 1,
                                       "format": "yyyy-MM-dd"}},
        "beside": {"terms": {"field": "entity_ids", "size": CO_OCCURRING, "exclude": [entity_id]}},
    })
    total = response["hits"]["total"]["value"]
    if name is None and not total:
        return None
    beside = response["aggregations"]["beside"]["buckets"]
    beside_names = entity_names_by_id(es, entities_index, [bucket["key"] for bucket in beside])
    if kb is not None:
        beside_names |= {b["key"]: (k.name, k.label) for b in beside if (k := kb.get(b["key"]))}
    return EntityView(
        id=entity_id, name=name or entity_id, label=label, known=known is not None,
        names={language: sorted(spellings) for language, spellings in sorted(names.items())},
        articles=total,
        per_day=[DayCount(day=date.fromisoformat(b["key_as_string"]), count=b["doc_count"])
                 for b in response["aggregations"]["per_day"]["buckets"]],
        co_occurring=[EntityCount(id=b["key"], name=beside_names.get(b["key"], (b["key"], None))[0],
                                  label=beside_names.get(b["key"], (None, None))[1], count=b["doc_count"])
                      for b in beside],
    )


@dataclass(frozen=True)
class EntityStores:
    """The indices entity corrections read and rewrite (names from the settings)."""

    articles: str
    entities: str
    corrections: str


class CorrectionOutcome(BaseModel):
    action: Literal["merged", "unmerged", "split"]
    correction: EntityCorrection
    articles: int  # past articles rewritten
    names: int  # spellings recorded again under their new id


class InvalidCorrection(ValueError):
    """A merge or split refused before anything is written; the text says why."""


Progress = Callable[[int], None]


def read_corrections(es: Any, index: str) -> Corrections:
    if not es.indices.exists(index=index):
        return Corrections()
    return Corrections.from_search(es.search(index=index, size=MAX_CORRECTIONS, query={"match_all": {}}))


def merge_entities(es: Any, stores: EntityStores, keep: str, other: str, kb: KnowledgeBase,
                   display_language: str = "en", progress: Progress | None = None) -> CorrectionOutcome:
    """`other` becomes `keep`, in the articles to come (every worker reads the corrections) and in
    the past ones (relinked here)."""
    if keep == other:
        raise InvalidCorrection("an entity cannot be merged into itself")
    corrections = read_corrections(es, stores.corrections)
    if corrections.target(keep) == other:
        raise InvalidCorrection(f"{keep} is merged into {other} already: split them first")
    name = _display_name(es, stores, keep, kb, display_language)
    correction = EntityCorrection(id=EntityCorrection.merge_id(other), kind="merge", entity_id=other, into=keep,
                                  name=name, created_at=datetime.now(timezone.utc))
    _store(es, stores.corrections, correction)
    _forget_spellings(es, stores.entities, other, lambda _: True)
    articles, names = relink_articles(es, stores, [other], kb, display_language, progress)
    return CorrectionOutcome(action="merged", correction=correction, articles=articles, names=names)


def split_entity(es: Any, stores: EntityStores, entity: str, part: str, kb: KnowledgeBase,
                 display_language: str = "en", progress: Progress | None = None) -> CorrectionOutcome:
    """Undoes the merge of the id `part` into `entity` when there is one; otherwise the spelling
    `part` stops standing for `entity` (its mentions get the id of their own name)."""
    merged = es.options(ignore_status=404).get(index=stores.corrections, id=EntityCorrection.merge_id(part))
    if merged.get("found") and merged["_source"].get("into") == entity:
        correction = EntityCorrection.model_validate(merged["_source"])
        es.delete(index=stores.corrections, id=correction.id, refresh=True)
        articles, names = relink_articles(es, stores, [entity], kb, display_language, progress)
        return CorrectionOutcome(action="unmerged", correction=correction, articles=articles, names=names)
    key = kb_key(part)  # the spelling as written, accents and case aside: "Parijs", not every "Paris"
    if not key:
        raise InvalidCorrection(f"{part!r} is neither an id merged into {entity} nor a name")
    correction = EntityCorrection(id=EntityCorrection.split_id(entity, key), kind="split", entity_id=entity,
                                  key=key, spelling=part, created_at=datetime.now(timezone.utc))
    _store(es, stores.corrections, correction)
    _forget_spellings(es, stores.entities, entity, lambda spelling: kb_key(spelling) == key)
    articles, names = relink_articles(es, stores, [entity], kb, display_language, progress)
    return CorrectionOutcome(action="split", correction=correction, articles=articles, names=names)


def relink_articles(es: Any, stores: EntityStores, ids: list[str], kb: KnowledgeBase, display_language: str = "en",
                    progress: Progress | None = None) -> tuple[int, int]:
    """Links the stored articles naming any of `ids` again, with the corrections in force, and
    rewrites those that change (each only if no worker rewrote it meanwhile: a conflict is read
    again). Returns (articles rewritten, spellings recorded)."""
    corrections = read_corrections(es, stores.corrections)
    totals = [0, 0]
    conflicts: set[str] = set()
    updates: list[tuple[dict[str, Any], EnrichedArticle]] = []

    def flush() -> None:
        _, errors = bulk(es, (action for action, _ in updates), raise_on_error=False, refresh=True)
        refused = {detail["_id"] for item in errors for detail in item.values()}  # type: ignore[union-attr]
        conflicts.update(refused)
        names = {name.id: name for _, article in updates if article.id not in refused
                 for name in entity_names(article)}
        _, name_errors = bulk(es, entity_name_actions(names.values(), stores.entities), raise_on_error=False)
        totals[0] += len(updates) - len(refused)
        totals[1] += len(names) - len(name_errors)  # type: ignore[arg-type]
        updates.clear()
        if progress:
            progress(totals[0])

    query: dict[str, Any] = {"terms": {"entity_ids": ids}}
    for _attempt in range(RELINK_ATTEMPTS):
        conflicts.clear()
        for hit in scan(es, index=stores.articles, query={"query": query}, seq_no_primary_term=True):
            article = article_from_document(hit["_source"])
            entities = relinked(article.entities, article.language, kb, corrections, display_language)
            if entities != article.entities:
                article = article.model_copy(update={"entities": entities})
                updates.append(({"_op_type": "index", "_index": stores.articles, "_id": article.id,
                                 "_source": article_document(article), "if_seq_no": hit["_seq_no"],
                                 "if_primary_term": hit["_primary_term"]}, article))
            if len(updates) >= RELINK_BATCH:
                flush()
        if updates:
            flush()
        if not conflicts:
            break
        query = {"ids": {"values": sorted(conflicts)}}
    es.indices.refresh(index=stores.entities)
    return totals[0], totals[1]


def rebuild_names(es: Any, stores: EntityStores, progress: Progress | None = None) -> tuple[int, int]:
    """Records every spelling of every stored article in the entities index again (the worker's
    writes there are best effort). Returns (articles read, spellings newly recorded)."""
    articles = recorded = 0
    batch: dict[str, EntityName] = {}

    def flush() -> int:
        _, errors = bulk(es, entity_name_actions(batch.values(), stores.entities), raise_on_error=False)
        new = len(batch) - len(errors)  # type: ignore[arg-type]
        batch.clear()
        return new

    for hit in scan(es, index=stores.articles, query={"query": {"match_all": {}}}):
        batch |= {name.id: name for name in entity_names(article_from_document(hit["_source"]))}
        articles += 1
        if len(batch) >= REBUILD_BATCH:
            recorded += flush()
            if progress:
                progress(articles)
    recorded += flush() if batch else 0
    es.indices.refresh(index=stores.entities)
    return articles, recorded


def _display_name(es: Any, stores: EntityStores, entity_id: str, kb: KnowledgeBase, language: str) -> str:
    known = kb.get(entity_id)
    if known is not None:
        return known.display_name(language)
    seen = entity_names_by_id(es, stores.entities, [entity_id])
    if entity_id in seen:
        return seen[entity_id][0]
    hits = es.search(index=stores.articles, size=1, query={"term": {"entity_ids": entity_id}},
                     _source=["entities"])["hits"]["hits"]
    named = [entity for hit in hits for entity in hit["_source"]["entities"] if entity["id"] == entity_id]
    if not named:
        raise InvalidCorrection(f"no entity {entity_id}: neither the knowledge base nor any article knows it")
    return named[0]["name"] or named[0]["text"]


def _forget_spellings(es: Any, index: str, entity_id: str, which: Callable[[str], bool]) -> None:
    """Deletes the entity's recorded spellings that `which` selects (by search and bulk: the
    minimal Elasticsearch has no delete-by-query); relinked articles record them again."""
    hits = scan(es, index=index, query={"query": {"term": {"entity_id": entity_id}}}, _source=["spelling"])
    stale = [hit["_id"] for hit in hits if which(hit["_source"]["spelling"])]
    if stale:
        bulk(es, ({"_op_type": "delete", "_index": index, "_id": name_id} for name_id in stale),
             raise_on_error=False, refresh=True)


def _store(es: Any, index: str, correction: EntityCorrection) -> None:
    es.index(index=index, id=correction.id, document=correction.model_dump(mode="json"), refresh=True)
