"""Searching the article index: the query goes through the same analysis as the articles."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from processors.analysis import query_terms, query_words
from processors.highlight import highlight
from processors.index import ENTITY_FIELDS, article_from_document
from schemas import LanguageShare

class SearchHit(BaseModel):
    id: str
    title: str
    language: str
    languages: list[LanguageShare]
    persons: list[str]
    locations: list[str]
    organizations: list[str]
    agencies: list[str]
    score: float
    snippets: list[str]  # HTML-escaped text, matches wrapped in <mark>


def match_all_requested(query: str) -> bool:
    return query.strip() in ("", "*")


def build_search_body(
    query: str, languages: Iterable[str], *, lang: str | None = None, entity: str | None = None, size: int = 10
) -> dict[str, Any]:
    must: list[dict[str, Any]] = []
    should: list[dict[str, Any]] = []
    if match_all_requested(query):
        must = [{"match_all": {}}]
    else:
        # Every query word must match, in the title or the body, in any of its language forms;
        # a word that some language drops as a stop word ("of") only adds to the score.
        for word in query_words(query, [lang] if lang else languages):
            terms = " ".join(sorted(word.alternatives))
            clause = {"bool": {"should": [
                {"match": {"title_terms": {"query": terms, "boost": 2.0}}},
                {"match": {"body_terms": {"query": terms}}},
            ], "minimum_should_match": 1}}
            (should if word.stop_word_somewhere else must).append(clause)
        if not must:
            must = [{"bool": {"should": should, "minimum_should_match": 1}}] if should else [{"match_none": {}}]
            should = []
    filters: list[dict[str, Any]] = []
    if lang:
        filters.append({"term": {"language": lang}})
    if entity:
        filters.append({"bool": {"should": [{"term": {field: entity}} for field in ENTITY_FIELDS.values()],
                                 "minimum_should_match": 1}})
    body: dict[str, Any] = {"query": {"bool": {"must": must, "should": should, "filter": filters}}, "size": size}
    if match_all_requested(query):
        body["sort"] = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
    return body


def search_articles(
    es: Any, index: str, query: str, languages: Iterable[str], *,
    lang: str | None = None, entity: str | None = None, size: int = 10,
) -> list[SearchHit]:
    languages = tuple(languages)
    body = build_search_body(query, languages, lang=lang, entity=entity, size=size)
    response = es.search(index=index, **body)
    wanted = set().union(*query_terms(query, [lang] if lang else languages)) if not match_all_requested(query) else set()
    hits = []
    for hit in response["hits"]["hits"]:
        source = hit["_source"]
        article = article_from_document(source)
        hits.append(SearchHit(
            id=article.id, title=article.title, language=article.language, languages=article.languages,
            persons=source.get("persons", []), locations=source.get("locations", []),
            organizations=source.get("organizations", []), agencies=article.agencies,
            score=hit.get("_score") or 0.0,
            snippets=highlight(article, wanted),
        ))
    return hits
