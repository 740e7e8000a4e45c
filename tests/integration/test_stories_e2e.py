"""Stories on the real stack: one wire story republished by three outlets under other headlines
(samples/articles-wire-copies.jsonl: boilerplate added, the ending trimmed, numbers updated) and
its French translation end in one story, the copies pointing at the first; a "sanctions" rule
alerts once for the story, its later articles added to that alert; a search shows the story once."""
from __future__ import annotations

import json

import httpx
import pytest

from newsstream.settings import PROJECT_ROOT
from tests.integration.conftest import stop, wait_for
from tests.integration.test_alerts_e2e import alerts_on_topic, stored_alerts

pytestmark = pytest.mark.integration

SAMPLES = PROJECT_ROOT / "samples" / "articles-wire-copies.jsonl"
FIRST = "wire-sanctions-herald"


@pytest.fixture(scope="module")
def indexed(service, es_client):  # noqa: ANN001
    added = service.cli("alerts", "add", "sanctions", "--query", "sanctions")
    assert added.returncode == 0, added.stderr.decode()
    worker = service.start_worker()
    try:
        lines = SAMPLES.read_text(encoding="utf-8").splitlines()
        # The first copy first: "earliest" is the order the stream sees them in.
        service.cli("ingest", "-", input=lines[0].encode())
        assert service.wait_for_count(es_client, 1) == 1
        service.cli("ingest", "-", input="\n".join(lines[1:]).encode())
        assert service.wait_for_count(es_client, len(lines)) == len(lines)
        yield {json.loads(line)["id"]: json.loads(line) for line in lines}
    finally:
        stop(worker)


def documents(service, es) -> dict[str, dict]:  # noqa: ANN001
    index = service.settings.index_articles
    es.indices.refresh(index=index)
    return {hit["_id"]: hit["_source"] for hit in es.search(index=index, size=100)["hits"]["hits"]}


def test_copies_and_the_translation_are_one_story_and_copies_point_at_the_first(service, indexed, es_client):  # noqa: ANN001
    found = documents(service, es_client)
    assert {doc["story_id"] for doc in found.values()} == {FIRST}
    assert {article_id: doc["duplicate_of"] for article_id, doc in found.items()} == {
        FIRST: None, "wire-sanctions-courier": FIRST, "wire-sanctions-gazette": FIRST,
        "wire-sanctions-quotidien": None,  # a translation is the story, not a copy
    }


def test_the_rule_alerts_once_for_the_story_with_every_article_added(service, indexed, es_client):  # noqa: ANN001
    def complete() -> list[dict]:
        alerts = [a for a in stored_alerts(service, es_client) if a["rule"] == "sanctions"]
        return alerts if alerts and alerts[0]["article_count"] == len(indexed) else []

    (alert,) = wait_for(complete, timeout_s=60)
    assert alert["story_id"] == FIRST and alert["article_id"] == FIRST
    assert sorted(alert["article_ids"]) == sorted(indexed) and set(alert["languages"]) == {"en", "fr"}
    assert len(alert["sources"]) == 4
    assert [a["id"] for a in alerts_on_topic(service) if a["rule"] == "sanctions"] == [alert["id"]]


def test_a_search_shows_the_story_once_with_its_copies_and_every_article_when_asked(service, indexed):  # noqa: ANN001
    (hit,) = service.cli_json("search", "sanctions")
    assert hit["story_id"] == FIRST and hit["story_size"] == len(indexed)
    assert {member["id"] for member in hit["story_more"]} == set(indexed) - {hit["id"]}
    assert len(service.cli_json("search", "sanctions", "--all")) == len(indexed)


def test_the_story_is_listed_and_shown_on_the_cli_and_the_api(service, indexed):  # noqa: ANN001
    from tests.newsstream.api.conftest import serve

    (listed,) = service.cli_json("stories", "--min-articles", "2", "--json")
    assert (listed["id"], listed["article_count"], set(listed["languages"])) == (FIRST, 4, {"en", "fr"})
    assert listed["title"] == indexed[FIRST]["title"] and len(listed["sources"]) == 4
    shown = service.cli_json("stories", "show", FIRST, "--json")
    assert [a["id"] for a in shown["articles"]] == sorted(indexed, key=lambda i: indexed[i]["published_at"])
    with serve(service.settings) as url:
        assert httpx.get(f"{url}/stories", params={"min_articles": 2}, timeout=30).json() == [listed]
        assert httpx.get(f"{url}/stories/{FIRST}", timeout=30).json() == shown
        missing = httpx.get(f"{url}/stories/no-such-story", timeout=30)
        assert missing.status_code == 404 and "no story" in missing.json()["detail"]
        page = httpx.get(f"{url}/search", params={"q": "sanctions"}, timeout=30).json()
        assert (page["total"], page["stories_total"], len(page["hits"])) == (4, 1, 1)
