"""Words for an alert rule in the languages it does not cover yet, found in the stored stories.

The rule's query finds its stories; their articles in another language, which the query does not
match, are the foreground, and every stored article of that language the background.
Elasticsearch's `significant_text` ranks the analysed body terms that the foreground has far more
often than the background. Each term is shown as the word those articles write most often for it.
Nothing is added to a rule by this module: the author accepts the words (`alerts add --suggest`)
and they become part of the query, in its per-language syntax.
"""
from __future__ import annotations

from typing import Any, Iterable

from pydantic import BaseModel

from newsstream.search import build_search_body
from processors.alerts import language_clause
from processors.analysis import analyze, surface_forms


class Suggestion(BaseModel):
    language: str
    word: str  # as the articles write it most often
    term: str  # the analysed form a rule matches
    stories: int  # stories of the query whose articles in this language have it
    articles: int  # foreground articles that have it
    of_articles: int  # foreground articles in this language
    score: float  # significant_text's (JLH) score


class Suggestions(BaseModel):
    by_language: dict[str, list[Suggestion]]  # best first
    # Per language, its words as a clause of the rule syntax, to add to the query with OR.
    clauses: dict[str, str] = {}
    # Languages in which the query matches articles of its stories already: nothing to add there.
    covered: list[str]
    stories: int  # stories the query matches


# Candidates asked of Elasticsearch per suggestion shown: names and numbers are dropped after.
CANDIDATES_PER_SUGGESTION = 5


def _name_words(source: dict[str, Any]) -> str:
    """The words of an article's names that are the name itself: all of a person's, the last one of
    another multi-word name ("Elspeth" of "Sturm Elspeth", where "Sturm" is the concept a German
    alert on storms needs), a one-word name whole."""
    words = []
    for entity in source.get("entities", []):
        for name in (entity.get("text", ""), *entity.get("aliases", [])):
            parts = name.split()
            words += parts if entity.get("label") == "person" else parts[-1:]
    return " ".join(words)


def suggest_words(es: Any, index: str, query: str, languages: Iterable[str], *, per_language: int = 3,
                  max_stories: int = 500) -> Suggestions:
    """Per language the query's stories have articles in that it does not match, the words of
    those articles that most stories share and the background has least, best first. Names (the
    articles' entities) and numbers are left out: they belong to one story, not to the concept."""
    languages = tuple(languages)
    if not es.indices.exists(index=index):
        return Suggestions(by_language={}, covered=[], stories=0)
    matching = build_search_body(query, languages, size=0, collapse=False)["query"]
    response = es.search(index=index, query=matching, size=0, aggs={
        "stories": {"terms": {"field": "story_id", "size": max_stories}},
        "languages": {"terms": {"field": "language", "size": 100}}})
    story_ids = [bucket["key"] for bucket in response["aggregations"]["stories"]["buckets"]]
    covered = sorted(bucket["key"] for bucket in response["aggregations"]["languages"]["buckets"])
    if not story_ids:
        return Suggestions(by_language={}, covered=covered, stories=0)
    in_stories = {"bool": {"filter": [{"terms": {"story_id": story_ids}}], "must_not": [matching]}}
    others = es.search(index=index, size=0, query=in_stories,
                       aggs={"languages": {"terms": {"field": "language", "size": 100}}})
    found_in = [bucket["key"] for bucket in others["aggregations"]["languages"]["buckets"]
                if bucket["key"] in languages and bucket["key"] not in covered]
    searches: list[dict[str, Any]] = []
    for language in found_in:
        searches += [{"index": index}, {
            # Story counts and surface words come from these (the first 100 articles when there are more).
            "size": 100, "_source": ["title", "body", "body_terms", "story_id", "entities.text", "entities.aliases",
                        "entities.label"],
            "query": {"bool": {"filter": [*in_stories["bool"]["filter"], {"term": {"language": language}}],
                               "must_not": [matching]}},
            "aggs": {"words": {
                "significant_text": {"field": "body_terms", "size": per_language * CANDIDATES_PER_SUGGESTION,
                                     "min_doc_count": 1,
                                     "filter_duplicate_text": True,  # a wire story's copies count once
                                     "background_filter": {"term": {"language": language}}}}}}]
    by_language: dict[str, list[Suggestion]] = {}
    for language, result in zip(found_in, es.msearch(searches=searches)["responses"] if searches else [],
                                strict=True):
        if "error" in result:
            raise RuntimeError(f"suggestions for {language} failed: {result['error']}")
        sources = [hit["_source"] for hit in result["hits"]["hits"]]
        names = set(analyze(" ".join(_name_words(source) for source in sources), language))
        stories_with: dict[str, set[str]] = {}
        for source in sources:
            for term in set(source.get("body_terms", "").split()):
                stories_with.setdefault(term, set()).add(source.get("story_id", ""))
        buckets = [bucket for bucket in result["aggregations"]["words"]["buckets"]
                   if bucket["key"] not in names and not any(c.isdigit() for c in bucket["key"])]
        buckets.sort(key=lambda bucket: (-len(stories_with.get(bucket["key"], ())), -bucket["score"]))
        words = surface_forms([f"{source.get('title', '')}\n{source.get('body', '')}" for source in sources],
                              language, [bucket["key"] for bucket in buckets])
        total = result["hits"]["total"]["value"]
        if chosen := buckets[:per_language]:
            by_language[language] = [
                Suggestion(language=language, word=words.get(bucket["key"], bucket["key"]), term=bucket["key"],
                           stories=len(stories_with.get(bucket["key"], ())), articles=bucket["doc_count"], of_articles=total,
                           score=round(bucket["score"], 3))
                for bucket in chosen]
    clauses = {language: language_clause(language, [s.word for s in found]) for language, found in by_language.items()}
    return Suggestions(by_language=by_language, clauses=clauses, covered=covered, stories=len(story_ids))
