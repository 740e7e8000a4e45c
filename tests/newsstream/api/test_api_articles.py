"""POST /articles into Kafka and GET /articles/{id} once a worker has indexed them."""
from __future__ import annotations

import httpx
import pytest

from schemas import article_id
from tests.newsstream.api.conftest import WRITE_KEY

ONE = {"title": "Port strike halts container traffic in Rotterdam",
       "body": "Dockers in Rotterdam stopped work on Monday, the Dutch union FNV said.",
       "source": "Example Wire", "published_at": "2024-04-02T09:00:00Z"}
TWO = [{"url": "https://example.org/a", "title": "Ferry service resumes",
        "body": "The ferry between Calais and Dover runs again."},
       {"id": "given-id-1", "title": "Snow in Madrid", "body": "Heavy snow fell on Madrid overnight."}]


@pytest.fixture(scope="module")
def posted(api_url, worker) -> dict[str, httpx.Response]:  # noqa: ANN001 - the worker indexes them
    with httpx.Client(base_url=api_url, headers={"X-API-Key": WRITE_KEY}) as http:
        return {"one": http.post("/articles", json=ONE), "list": http.post("/articles", json=TWO)}


ONE_ID = article_id(url=None, source=ONE["source"], title=ONE["title"], body=ONE["body"])


def test_one_article_is_accepted_with_its_stable_id(posted):  # noqa: ANN001
    assert posted["one"].status_code == 202
    assert posted["one"].json() == {"accepted": 1, "ids": [ONE_ID]}


def test_a_list_is_accepted_in_order(posted):  # noqa: ANN001
    assert posted["list"].status_code == 202
    assert posted["list"].json() == {"accepted": 2, "ids": [
        article_id(url="https://example.org/a", source=None, title="", body=""), "given-id-1"]}


def test_an_indexed_article_is_returned_enriched(client, posted, service, es_client):  # noqa: ANN001
    assert service.wait_for_count(es_client, 3) == 3
    article = client.get(f"/articles/{ONE_ID}")
    assert article.status_code == 200
    body = article.json()
    assert body["title"] == ONE["title"] and body["language"] == "en"
    assert "Rotterdam" in {entity["text"] for entity in body["entities"]}
    assert client.get("/articles/given-id-1").json()["title"] == "Snow in Madrid"


def test_an_unknown_article_is_404_saying_so(client):  # noqa: ANN001
    missing = client.get("/articles/no-such-id")
    assert missing.status_code == 404
    assert "no indexed article has the id 'no-such-id'" in missing.json()["detail"]
    assert client.get("/articles/bad id!").status_code == 422


@pytest.mark.parametrize(("payload", "where"), [
    ({"title": "no body"}, "body[0].body: Field required"),
    ({"body": "   "}, "body[0].body"),
    ({"body": "text", "author": "someone"}, "body[0].author: Extra inputs are not permitted"),
    ([{"body": "fine"}, {"body": "fine", "published_at": "last week"}], "body[1].published_at"),
    ([], "body: List should have at least 1 item"),
    ("just text", "body"),
])
def test_an_invalid_article_is_422_pointing_at_the_field(client, payload, where):  # noqa: ANN001
    refused = client.post("/articles", json=payload)
    assert refused.status_code == 422
    assert where in refused.json()["detail"]


def test_accepted_articles_are_counted_and_refused_ones_not(client, posted):  # noqa: ANN001
    assert "newsstream_api_articles_ingested_total 3.0" in client.get("/metrics").text
