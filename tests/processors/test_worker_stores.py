"""The worker's Elasticsearch stores of the story stage, on the real Elasticsearch: a story merge
relabels signatures and articles, an existing alert gets a later article added once, and the
lookup finds a decided signature and the article's own."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from clients.elasticsearch import make_async_client
from processors.alerts import AlertPending
from processors.config import StoryConfig
from processors.index import bulk_actions
from processors.stories import signature
from processors.worker import ElasticsearchAlerts, ElasticsearchStories
from schemas import EnrichedArticle
from schemas.alerts import Alert
from schemas.stories import StoryMerge

pytestmark = pytest.mark.integration

BODY = ("Foreign ministers of the European Union agreed on Tuesday to impose sanctions on fourteen shipping "
        "companies accused of carrying Russian crude oil in a shadow fleet of ageing tankers.")


@pytest.fixture
def indices(stack, scratch_indices):  # noqa: ANN001
    return scratch_indices("articles", "alerts", "story_signatures")


def article(article_id: str, story_id: str) -> EnrichedArticle:
    return EnrichedArticle(id=article_id, title="EU sanctions tankers", body=BODY, language="en", languages=[],
                           body_terms="foreign minist european union sanction ship compani russian crude oil tanker",
                           story_id=story_id, published_at=datetime(2026, 11, 24, 10, tzinfo=timezone.utc))


def test_a_merge_relabels_the_signatures_and_articles_of_the_merged_story(stack, es_client, indices) -> None:  # noqa: ANN001
    config = StoryConfig()
    articles = [article("a", "a"), article("b", "b"), article("c", "b")]

    async def run() -> None:
        es = make_async_client(stack.elasticsearch)
        try:
            stories = ElasticsearchStories(es, indices["story_signatures"], indices["articles"], config)
            await stories.record([signature(a, config).model_copy(update={"story_id": a.story_id}) for a in articles])
            for action in bulk_actions(articles, indices["articles"]):
                await es.index(index=action["_index"], id=action["_id"], document=action["_source"], refresh=True)
            found = await stories.candidates([signature(article("b", ""), config), signature(article("d", ""), config)])
            assert found[0][0].id == "b" and found[0][0].story_id == "b"  # its own decision first
            assert {s.id for s in found[1]} == {"a", "b", "c"}
            await stories.merge([StoryMerge(story_id="b", into="a")])
        finally:
            await es.close()

    asyncio.run(run())
    for index in (indices["story_signatures"], indices["articles"]):
        stored = es_client.search(index=index, size=10)["hits"]["hits"]
        assert {hit["_id"]: hit["_source"]["story_id"] for hit in stored} == {"a": "a", "b": "a", "c": "a"}


def alert(article_id: str, source: str) -> Alert:
    return Alert(id="rule-story", rule="sanctions", article_id=article_id, story_id="a", title="t", language="en",
                 matched_terms=["sanction"], snippet="", article_ids=[article_id], sources=[source], languages=["en"])


def test_an_alert_that_exists_gets_a_later_article_added_once(stack, es_client, indices) -> None:  # noqa: ANN001

    async def run() -> list[list[Alert]]:
        es = make_async_client(stack.elasticsearch)
        try:
            alerts = ElasticsearchAlerts(es, indices["alerts"])
            first = await alerts.record([alert("a", "Herald")])
            await alerts.published(first)
            return [first, *[await alerts.record([alert("b", "Courier")]) for _ in range(2)]]
        finally:
            await es.close()

    delivered = asyncio.run(run())
    assert [len(new) for new in delivered] == [1, 0, 0]
    stored = es_client.get(index=indices["alerts"], id="rule-story")["_source"]
    assert (stored["article_ids"], stored["article_count"], stored["sources"]) == (["a", "b"], 2, ["Herald", "Courier"])


def test_an_alert_left_pending_is_published_by_the_next_worker_after_the_lease(stack, es_client, indices) -> None:  # noqa: ANN001
    async def run() -> None:
        es = make_async_client(stack.elasticsearch)
        try:
            died = ElasticsearchAlerts(es, indices["alerts"])
            assert [a.article_id for a in await died.record([alert("a", "Herald")])] == ["a"]  # then killed, unpublished
            # Its own retry of the batch publishes it; another worker waits while the lease runs.
            assert [a.article_id for a in await died.record([alert("a", "Herald")])] == ["a"]
            with pytest.raises(AlertPending):
                await ElasticsearchAlerts(es, indices["alerts"]).record([alert("b", "Courier")])
            restarted = ElasticsearchAlerts(es, indices["alerts"], lease=timedelta(0))
            (claimed,) = await restarted.record([alert("b", "Courier")])
            assert claimed.article_id == "a" and claimed.article_ids == ["a", "b"]
            await restarted.published([claimed])
            assert await restarted.record([alert("b", "Courier")]) == []
        finally:
            await es.close()

    asyncio.run(run())
    stored = es_client.get(index=indices["alerts"], id="rule-story")["_source"]
    assert stored["pending_owner"] is None and stored["article_count"] == 2
