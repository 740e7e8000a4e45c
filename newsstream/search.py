"""Searching the article index: the query goes through the same analysis as the articles,
and snippets mark the inflected forms that matched."""
from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from processors.analysis import analyze_with_offsets, query_terms
from processors.index import ENTITY_FIELDS, article_from_document
from schemas import EnrichedArticle, LanguageShare

SNIPPET_CHARS = 220


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
    must: list[dict[str, Any]]
    if match_all_requested(query):
        must = [{"match_all": {}}]
    else:
        words = query_terms(query, [lang] if lang else languages)
        # Every query word must match (in the title or the body), in any of its language forms.
        must = [
            {"bool": {"should": [
                {"match": {"title_terms": {"query": " ".join(sorted(alternatives)), "boost": 2.0}}},
                {"match": {"body_terms": {"query": " ".join(sorted(alternatives))}}},
            ], "minimum_should_match": 1}}
            for alternatives in words
        ] or [{"match_none": {}}]
    filters: list[dict[str, Any]] = []
    if lang:
        filters.append({"term": {"language": lang}})
    if entity:
        filters.append({"bool": {"should": [{"term": {field: entity}} for field in ENTITY_FIELDS.values()],
                                 "minimum_should_match": 1}})
    body: dict[str, Any] = {"query": {"bool": {"must": must, "filter": filters}}, "size": size}
    if match_all_requested(query):
        body["sort"] = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
    return body


def highlight(article: EnrichedArticle, wanted: set[str], max_snippets: int = 2) -> list[str]:
    """Snippets around the words whose analysed form is one of `wanted` (HTML-escaped, <mark>ed)."""
    scored: list[tuple[int, int, str]] = []
    for position, paragraph in enumerate(article.paragraphs):
        spans = [(t.start, t.end) for t in analyze_with_offsets(paragraph.text, paragraph.language) if t.term in wanted]
        if spans:
            scored.append((len(spans), -position, _snippet(paragraph.text, spans)))
    if not scored and article.paragraphs:
        return [_snippet(article.paragraphs[0].text, [])]
    return [snippet for *_, snippet in sorted(scored, reverse=True)[:max_snippets]]


def _snippet(text: str, spans: list[tuple[int, int]]) -> str:
    """A window of the text around the first span, HTML-escaped, with the spans in <mark>."""
    around = spans[0][0] if spans else 0
    window_start = max(0, min(around - SNIPPET_CHARS // 3, len(text) - SNIPPET_CHARS))
    window_end = min(len(text), window_start + SNIPPET_CHARS)
    parts, cursor = [], window_start
    for start, end in spans:
        if start < cursor or end > window_end:
            continue
        parts += [html.escape(text[cursor:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        cursor = end
    parts.append(html.escape(text[cursor:window_end]))
    return ("…" if window_start else "") + "".join(parts) + ("…" if window_end < len(text) else "")


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
