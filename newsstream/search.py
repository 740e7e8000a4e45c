"""Searching the article index: the query goes through the same analysis as the articles."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer

from processors.alerts import RuleIndex, RuleMatch
from processors.analysis import query_terms, query_words
from processors.highlight import highlight
from processors.index import ENTITY_ID_FIELDS, article_from_document
from processors.knowledge import KnowledgeBase
from processors.linking import ids_named
from processors.names import name_key
from schemas import LanguageShare
from schemas.alerts import Alert, Delivery
from schemas.articles import EnrichedArticle

# Elasticsearch's index.max_result_window: pages must end within the first this-many hits.
MAX_RESULT_WINDOW = 10_000
FACET_SIZE = 10
# Facet name → keyword field it counts; entities are counted by id, so one entity is one entry
# whatever language or spelling names it.
FACET_FIELDS = {"languages": "language", "persons": "person_ids", "locations": "location_ids",
                "organizations": "organization_ids", "agencies": "agencies", "sources": "source"}
ENTITY_FACETS = {"persons": "person", "locations": "location", "organizations": "organization"}
DATE_BUCKETS = 24
# A collapsed hit lists this many other articles of its story (the rest are counted).
STORY_MEMBERS_SHOWN = 5
STORY_MEMBER_FIELDS = ["id", "title", "url", "source", "language", "published_at", "duplicate_of"]


class PageOutOfRange(ValueError):
    """A page that does not lie within the first MAX_RESULT_WINDOW hits."""


# ISO 8601 text even from model_dump(): `newsstream search --json` hands hits to json.dumps.
IsoDatetime = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str)]


class EntityRef(BaseModel):
    id: str
    name: str
    label: str


class StoryMember(BaseModel):
    """Another article of a hit's story: a copy (`duplicate_of` set) or another outlet's report."""

    id: str
    title: str
    url: str | None = None
    source: str | None = None
    language: str
    published_at: IsoDatetime | None = None
    duplicate_of: str | None = None


class SearchHit(BaseModel):
    id: str
    title: str
    url: str | None = None
    source: str | None = None
    published_at: IsoDatetime | None = None
    language: str
    languages: list[LanguageShare]
    persons: list[str]
    locations: list[str]
    organizations: list[str]
    misc: list[str]
    entities: list[EntityRef]  # the names above with their ids, most mentioned first
    agencies: list[str]
    score: float
    snippets: list[str]  # HTML-escaped text, matches wrapped in <mark>
    story_id: str | None = None
    duplicate_of: str | None = None
    # When results collapse by story: how many matching articles the story has (this one
    # included), and some of the others, earliest first.
    story_size: int = 1
    story_more: list[StoryMember] = []


class SearchFilters(BaseModel):
    """What a search is narrowed to: every filter given must hold."""

    model_config = ConfigDict(frozen=True)

    lang: str | None = None
    # Each an entity id, or a name standing for every entity it may name (resolved through the
    # knowledge base, and through name keys: "Moscou" finds "Moskau"), as whatever kind of entity.
    entities: tuple[str, ...] = ()
    # Each an id (what a facet's value filters on, so its count is the filtered total) or a name.
    persons: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    agency: str | None = None
    source: str | None = None
    published_from: date | datetime | None = None  # inclusive
    published_to: date | datetime | None = None  # inclusive: a date means up to its end


class FacetValue(BaseModel):
    value: str
    count: int
    name: str | None = None  # an entity facet's canonical name (its value is the id)


class DateBucket(BaseModel):
    start: date
    end: date  # the bucket's last day
    count: int


class Facets(BaseModel):
    """Counts over all the matching articles (not just the page), the top values of each field."""

    languages: list[FacetValue]
    persons: list[FacetValue]
    locations: list[FacetValue]
    organizations: list[FacetValue]
    agencies: list[FacetValue]
    sources: list[FacetValue]
    published: list[DateBucket]  # publication dates (UTC), in at most DATE_BUCKETS contiguous buckets


class SearchPage(BaseModel):
    total: int  # matching articles
    stories_total: int | None = None  # the stories they are in, when results collapse by story
    page: int
    size: int
    hits: list[SearchHit]
    facets: Facets


def match_all_requested(query: str) -> bool:
    return query.strip() in ("", "*")


def _analysis_languages(languages: Iterable[str], filters: SearchFilters) -> tuple[str, ...]:
    return (filters.lang,) if filters.lang else tuple(languages)


def entity_clause(value: str, kb: KnowledgeBase | None, id_field: str = "entity_ids") -> dict[str, Any]:
    """Articles naming `value`: the entity of that id, or any entity of that name."""
    should: list[dict[str, Any]] = [{"terms": {id_field: [value, *ids_named(value, kb)]}}]
    if key := name_key(value):
        should.append({"term": {"entity_keys": key}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _filter_clauses(filters: SearchFilters, kb: KnowledgeBase | None) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []
    if filters.lang:
        clauses.append({"term": {"language": filters.lang}})
    clauses += [entity_clause(entity, kb) for entity in filters.entities]
    for facet, label in ENTITY_FACETS.items():
        id_field = ENTITY_ID_FIELDS[label]
        clauses += [entity_clause(value, kb, id_field) for value in getattr(filters, facet)]
    if filters.agency:
        clauses.append({"term": {"agencies": filters.agency}})
    if filters.source:
        clauses.append({"term": {"source": filters.source}})
    published: dict[str, str] = {}
    if filters.published_from:
        published["gte"] = filters.published_from.isoformat()
    if filters.published_to:
        to = filters.published_to
        # `||/d` rounds up to the day's last millisecond under lte: the whole `to` day is in.
        published["lte"] = to.isoformat() if isinstance(to, datetime) else f"{to.isoformat()}||/d"
    if published:
        clauses.append({"range": {"published_at": published}})
    return clauses


def facet_aggregations() -> dict[str, Any]:
    # The entity facets' names are looked up afterwards (`entity_names`): a top_hits under each terms
    # aggregation ran for every candidate bucket (the match-all page at 100,000 articles: 123 ms
    # with it, 78 ms without).
    aggregations: dict[str, Any] = {
        name: {"terms": {"field": field, "size": FACET_SIZE}} for name, field in FACET_FIELDS.items()
    }
    # Days with articles only (an outlier date must not make thousands of empty buckets);
    # `date_buckets` groups them into at most DATE_BUCKETS contiguous buckets.
    aggregations["published"] = {"date_histogram": {
        "field": "published_at", "calendar_interval": "day", "min_doc_count": 1, "format": "yyyy-MM-dd"}}
    return aggregations


def build_search_body(
    query: str, languages: Iterable[str], filters: SearchFilters | None = None, *,
    size: int = 10, offset: int = 0, with_facets: bool = False, kb: KnowledgeBase | None = None,
    collapse: bool = True,
) -> dict[str, Any]:
    filters = filters or SearchFilters()
    must: list[dict[str, Any]] = []
    should: list[dict[str, Any]] = []
    if match_all_requested(query):
        must = [{"match_all": {}}]
    else:
        # Every query word must match, in the title or the body, in any of its language forms;
        # a word that some language drops as a stop word ("of") only adds to the score.
        for word in query_words(query, _analysis_languages(languages, filters)):
            terms = " ".join(sorted(word.alternatives))
            clause = {"bool": {"should": [
                {"match": {"title_terms": {"query": terms, "boost": 2.0}}},
                {"match": {"body_terms": {"query": terms}}},
            ], "minimum_should_match": 1}}
            (should if word.stop_word_somewhere else must).append(clause)
        if not must:
            must = [{"bool": {"should": should, "minimum_should_match": 1}}] if should else [{"match_none": {}}]
            should = []
    body: dict[str, Any] = {
        "query": {"bool": {"must": must, "should": should, "filter": _filter_clauses(filters, kb)}},
        "size": size,
    }
    if offset:
        body["from"] = offset
    if match_all_requested(query):
        body["sort"] = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
    if collapse:
        # One hit per story, its best; the story's other matching articles ride along.
        body["collapse"] = {"field": "story_id", "inner_hits": {
            "name": "story", "size": STORY_MEMBERS_SHOWN + 1, "_source": STORY_MEMBER_FIELDS,
            "sort": [{"published_at": {"order": "asc", "missing": "_last"}}, {"id": "asc"}]}}
    if with_facets:
        body["aggs"] = facet_aggregations()
        if collapse:
            body["aggs"]["stories"] = {"cardinality": {"field": "story_id"}}
        body["track_total_hits"] = True
    return body


def _hits(response: dict[str, Any], query: str, languages: tuple[str, ...]) -> list[SearchHit]:
    wanted = set().union(*query_terms(query, languages)) if not match_all_requested(query) else set()
    hits = []
    for hit in response["hits"]["hits"]:
        source = hit["_source"]
        article = article_from_document(source)
        hits.append(SearchHit(
            id=article.id, title=article.title, url=article.url, source=article.source,
            published_at=article.published_at, language=article.language, languages=article.languages,
            persons=source.get("persons", []), locations=source.get("locations", []),
            organizations=source.get("organizations", []), misc=source.get("misc", []),
            # One per id: entities a merge gave one id stay apart in the article.
            entities=list({entity.id: EntityRef(id=entity.id, name=entity.name or entity.text, label=entity.label)
                           for entity in article.entities if entity.id}.values()),
            agencies=article.agencies,
            score=hit.get("_score") or 0.0,
            snippets=highlight(article, wanted),
            story_id=article.story_id, duplicate_of=article.duplicate_of,
            **_story_group(hit, article.id),
        ))
    return hits


def _story_group(hit: dict[str, Any], article_id: str) -> dict[str, Any]:
    group = hit.get("inner_hits", {}).get("story", {}).get("hits")
    if not group:
        return {}
    members = [StoryMember.model_validate(member["_source"]) for member in group["hits"]]
    return {"story_size": group["total"]["value"],
            "story_more": [member for member in members if member.id != article_id][:STORY_MEMBERS_SHOWN]}


def _later(day: date, *, days: int = 0, months: int = 0) -> date:
    """`day` moved on (to the first of the month when moved by months); date.max past year 9999."""
    try:
        if not months:
            return day + timedelta(days=days)
        index = day.year * 12 + day.month - 1 + months
        return date(index // 12, index % 12 + 1, 1)
    except (OverflowError, ValueError):
        return date.max


# From the finest: (the start of the bucket holding a day, the start of the bucket after one).
# Weeks start on Monday; months and coarser on the first of a month.
BUCKET_INTERVALS: dict[str, tuple[Callable[[date], date], Callable[[date], date]]] = {
    "day": (lambda d: d, lambda s: _later(s, days=1)),
    "week": (lambda d: d - timedelta(days=d.weekday()), lambda s: _later(s, days=7)),
    "month": (lambda d: d.replace(day=1), lambda s: _later(s, months=1)),
    "quarter": (lambda d: date(d.year, (d.month - 1) // 3 * 3 + 1, 1), lambda s: _later(s, months=3)),
    "year": (lambda d: date(d.year, 1, 1), lambda s: _later(s, months=12)),
    # There is no year 0: the first decade starts in year 1 and is a year short.
    "decade": (lambda d: date(max(1, d.year // 10 * 10), 1, 1), lambda s: _later(s, months=(10 - s.year % 10) * 12)),
}


def date_buckets(days: dict[date, int]) -> list[DateBucket]:
    """Daily counts as contiguous buckets (empty ones included) of the finest interval that
    needs at most DATE_BUCKETS of them."""
    if not days:
        return []
    *finer, coarsest = BUCKET_INTERVALS.values()
    for bucket_of, following in (*finer, coarsest):
        starts, last = [bucket_of(min(days))], bucket_of(max(days))
        while starts[-1] < last and (len(starts) <= DATE_BUCKETS or following is coarsest[1]):
            starts.append(following(starts[-1]))
        if len(starts) <= DATE_BUCKETS:
            break
    counts = dict.fromkeys(starts, 0)
    for day, count in days.items():
        counts[bucket_of(day)] += count
    return [DateBucket(start=start, end=following(start) - timedelta(days=1), count=count)
            for start, count in counts.items()]


def _stored_name(source: dict[str, Any], entity_id: str) -> str | None:
    return next((entity.get("name") for entity in source.get("entities", []) if entity.get("id") == entity_id), None)


def entity_names(es: Any, index: str, aggregations: dict[str, Any], hits: Sequence[SearchHit]) -> dict[str, str]:
    """The name of each entity the facets list: from the page's hits when one names it, else
    from one stored article naming it (one msearch of size-1 searches for all of them)."""
    wanted = list(dict.fromkeys(str(bucket["key"]) for facet in ENTITY_FACETS
                                for bucket in aggregations[facet]["buckets"]))
    names = {entity.id: entity.name for hit in hits for entity in hit.entities if entity.id in wanted}
    missing = [entity_id for entity_id in wanted if entity_id not in names]
    if missing:
        searches: list[dict[str, Any]] = []
        for entity_id in missing:
            searches += [{"index": index}, {"query": {"term": {"entity_ids": entity_id}}, "size": 1,
                                            "terminate_after": 1,
                                            "_source": {"includes": ["entities.id", "entities.name"]}}]
        for entity_id, result in zip(missing, es.msearch(searches=searches)["responses"], strict=True):
            found = result.get("hits", {}).get("hits", [])
            if found and (name := _stored_name(found[0]["_source"], entity_id)):
                names[entity_id] = name
    return names


def facets_from_aggregations(aggregations: dict[str, Any], names: Mapping[str, str] | None = None) -> Facets:
    """The facets of a search's aggregations; `names`: the entity facets' names by id."""
    names = names or {}
    values = {
        name: [FacetValue(value=str(bucket["key"]), count=bucket["doc_count"],
                          name=names.get(str(bucket["key"])) if name in ENTITY_FACETS else None)
               for bucket in aggregations[name]["buckets"]]
        for name in FACET_FIELDS
    }
    days = {date.fromisoformat(bucket["key_as_string"]): bucket["doc_count"]
            for bucket in aggregations["published"]["buckets"]}
    return Facets(**values, published=date_buckets(days))


def search_page(
    es: Any, index: str, query: str, languages: Iterable[str], filters: SearchFilters | None = None, *,
    page: int = 1, size: int = 10, kb: KnowledgeBase | None = None, collapse: bool = True,
) -> SearchPage:
    """One page of hits (1-based) with the facets of everything that matches."""
    if page < 1 or size < 1 or page * size > MAX_RESULT_WINDOW:
        raise PageOutOfRange(f"page {page} of size {size} is not within the first {MAX_RESULT_WINDOW} results: "
                             "page must be at least 1, size at least 1 and page × size at most that")
    filters = filters or SearchFilters()
    body = build_search_body(query, languages, filters, size=size, offset=(page - 1) * size, with_facets=True,
                             kb=kb, collapse=collapse)
    response = es.search(index=index, **body)
    hits = _hits(response, query, _analysis_languages(languages, filters))
    aggregations = response["aggregations"]
    return SearchPage(
        total=response["hits"]["total"]["value"], page=page, size=size,
        stories_total=aggregations["stories"]["value"] if collapse else None,
        hits=hits, facets=facets_from_aggregations(aggregations, entity_names(es, index, aggregations, hits)),
    )


def search_articles(
    es: Any, index: str, query: str, languages: Iterable[str], *,
    lang: str | None = None, entity: str | None = None, size: int = 10, kb: KnowledgeBase | None = None,
    collapse: bool = True,
) -> list[SearchHit]:
    filters = SearchFilters(lang=lang, entities=(entity,) if entity else ())
    response = es.search(index=index, **build_search_body(query, languages, filters, size=size, kb=kb,
                                                           collapse=collapse))
    return _hits(response, query, _analysis_languages(languages, filters))


def stored_matches(es: Any, index: str, rules: RuleIndex, lang: str | None = None) -> Iterator[tuple[EnrichedArticle, RuleMatch]]:
    """The stored articles the rules match, with the stream's engine: only the articles that hold
    one of the rules' trigger terms (and are in `lang`, when given) are read and matched."""
    from elasticsearch.helpers import scan

    query = rules.stored_candidates_query()
    if lang:
        query = {"bool": {"must": [query], "filter": [{"term": {"language": lang}}]}}
    for hit in scan(es, index=index, query={"query": query}):
        article = article_from_document(hit["_source"])
        for match in rules.match(article):
            yield article, match


def stored_alerts(es: Any, index: str, rule: str | None = None, since: timedelta | None = None) -> list[Alert]:
    """The alerts in the index, oldest first (at most 10,000)."""
    if not es.indices.exists(index=index):
        return []
    filters: list[dict[str, Any]] = [{"term": {"rule": rule}}] if rule else []
    if since:
        filters.append({"range": {"matched_at": {"gte": (datetime.now(timezone.utc) - since).isoformat()}}})
    response = es.search(index=index, query={"bool": {"filter": filters}}, sort=[{"matched_at": "asc"}], size=10_000)
    return [Alert.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]


def stored_deliveries(es: Any, index: str, rule: str | None = None, failed: bool = False,
                      size: int = 100) -> list[Delivery]:
    """The delivery log, latest change first: every alert sent to a channel, being retried, or
    given up (`failed`: only those, with the reason)."""
    if not es.indices.exists(index=index):
        return []  # nothing was ever delivered
    filters: list[dict[str, Any]] = [{"term": {"rule": rule}}] if rule else []
    if failed:
        filters.append({"term": {"status": "failed"}})
    response = es.search(index=index, query={"bool": {"filter": filters}}, sort=[{"updated_at": "desc"}], size=size)
    return [Delivery.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]
