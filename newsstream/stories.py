"""Reading stories: the articles index grouped by `story_id` (the story stage's, processors/stories.py).
A story is no document of its own: its articles are, so what is listed is always what is indexed."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from elasticsearch.helpers import bulk, scan
from pydantic import BaseModel

from newsstream.search import IsoDatetime, StoryMember

MAX_STORY_ARTICLES = 500  # a story's timeline lists at most this many articles
MAX_OUTLETS = 50


class StorySummary(BaseModel):
    id: str
    title: str  # its first article's
    article_count: int
    languages: list[str]
    sources: list[str]  # outlets, most articles first
    first_seen: IsoDatetime | None = None  # publication times of its first and last article
    last_seen: IsoDatetime | None = None


class StoryDetail(StorySummary):
    articles: list[StoryMember]  # the timeline, earliest first; copies carry duplicate_of


def _article_time(source: dict[str, Any]) -> datetime | None:
    moment = source.get("published_at") or source.get("processed_at")
    return datetime.fromisoformat(moment) if moment else None


def list_stories_body(size: int, lang: str | None = None, min_articles: int = 1) -> dict[str, Any]:
    """The newest stories first (by their latest article), each with what it is made of."""
    return {
        "size": 0,
        "query": {"bool": {"filter": [{"term": {"language": lang}}] if lang else []}},
        "aggs": {"stories": {
            "terms": {"field": "story_id", "size": size, "min_doc_count": min_articles, "order": {"latest": "desc"}},
            "aggs": {
                "latest": {"max": {"field": "processed_at"}},
                "first_seen": {"min": {"field": "published_at"}},
                "last_seen": {"max": {"field": "published_at"}},
                "languages": {"terms": {"field": "language"}},
                "sources": {"terms": {"field": "source", "size": MAX_OUTLETS}},
                "first": {"top_hits": {"size": 1, "_source": ["title"],
                                       "sort": [{"processed_at": {"order": "asc"}}]}},
            },
        }},
    }


def _moment(aggregation: dict[str, Any]) -> datetime | None:
    text = aggregation.get("value_as_string")
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if aggregation.get("value") is not None else None


def summaries_from(response: dict[str, Any]) -> list[StorySummary]:
    return [StorySummary(
        id=bucket["key"], title=bucket["first"]["hits"]["hits"][0]["_source"].get("title", ""),
        article_count=bucket["doc_count"], languages=[b["key"] for b in bucket["languages"]["buckets"]],
        sources=[b["key"] for b in bucket["sources"]["buckets"]],
        first_seen=_moment(bucket["first_seen"]), last_seen=_moment(bucket["last_seen"]),
    ) for bucket in response["aggregations"]["stories"]["buckets"]]


def list_stories(es: Any, index: str, *, size: int = 20, lang: str | None = None,
                 min_articles: int = 1) -> list[StorySummary]:
    return summaries_from(es.search(index=index, **list_stories_body(size, lang, min_articles)))


def story(es: Any, index: str, story_id: str) -> StoryDetail | None:
    """The story with its timeline, or None when no article is in it."""
    response = es.search(index=index, query={"term": {"story_id": story_id}}, size=MAX_STORY_ARTICLES,
                         _source=[*StoryMember.model_fields, "processed_at"], track_total_hits=True,
                         sort=[{"processed_at": {"order": "asc"}}])
    sources = [hit["_source"] for hit in response["hits"]["hits"]]
    if not sources:
        return None
    timeline = sorted(sources, key=lambda source: (_article_time(source) is None, _article_time(source) or 0))
    times = [moment for moment in map(_article_time, timeline) if moment]
    outlets: dict[str, int] = {}
    for source in sources:
        if source.get("source"):
            outlets[source["source"]] = outlets.get(source["source"], 0) + 1
    return StoryDetail(
        id=story_id, title=sources[0].get("title", ""), article_count=response["hits"]["total"]["value"],
        languages=list(dict.fromkeys(source["language"] for source in timeline)),
        sources=sorted(outlets, key=lambda outlet: -outlets[outlet]),
        first_seen=times[0] if times else None, last_seen=times[-1] if times else None,
        articles=[StoryMember.model_validate(source) for source in timeline],
    )


def backfill_story_ids(es: Any, index: str) -> int:
    """Gives articles indexed before stories existed a story of their own: search collapses by
    `story_id`, and every article without one would fall into one group."""
    missing = {"query": {"bool": {"must_not": {"exists": {"field": "story_id"}}}}}
    if not es.count(index=index, **missing)["count"]:
        return 0
    actions = ({"_op_type": "update", "_index": index, "_id": hit["_id"], "doc": {"story_id": hit["_id"]}}
               for hit in scan(es, index=index, query=missing, _source=False))
    done, _ = bulk(es, actions, refresh=True)
    return done
