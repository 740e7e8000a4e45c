"""GET /search on articles a worker has indexed: hits, snippets, facets as filters, pages."""
from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.newsstream.api.conftest import SAMPLES, SEED, WRITE_KEY, articles_from, as_json

EU_SANCTIONS = "EU ministers agree new sanctions on shadow-fleet shipping firms"


@pytest.fixture(scope="module")
def indexed(api_url, worker, service, es_client) -> int:  # noqa: ANN001
    articles = articles_from(*(path for path in (SAMPLES, SEED) if path.is_file()))
    with httpx.Client(base_url=api_url, headers={"X-API-Key": WRITE_KEY}) as http:
        assert http.post("/articles", json=as_json(articles)).status_code == 202
    assert service.wait_for_count(es_client, len(articles)) == len(articles)
    return len(articles)


def search(client, **params) -> dict:  # noqa: ANN001
    answered = client.get("/search", params=params)
    assert answered.status_code == 200, answered.text
    return answered.json()


def test_sanction_finds_the_sanctions_articles_with_the_word_marked(client, indexed):  # noqa: ANN001
    result = search(client, q="sanction")
    titles = [hit["title"] for hit in result["hits"]]
    assert EU_SANCTIONS in titles and result["total"] == len(titles)
    eu = next(hit for hit in result["hits"] if hit["title"] == EU_SANCTIONS)
    assert any("<mark>sanctions</mark>" in snippet for snippet in eu["snippets"])
    assert eu["source"] == "Example Wire" and eu["published_at"].startswith("2024-03-11")
    if SEED.is_file():
        putin = next(hit for hit in result["hits"] if "Poutine" in hit["title"])
        assert any("<mark>sanctions</mark>" in snippet for snippet in putin["snippets"])


def test_facets_count_everything_that_matches(client, indexed):  # noqa: ANN001
    facets = search(client, q="*", size=1)["facets"]
    assert sum(value["count"] for value in facets["languages"]) == indexed
    assert {"en", "fr", "de", "es", "it"} <= {value["value"] for value in facets["languages"]}
    assert {"Example Wire", "Exemple Info"} <= {value["value"] for value in facets["sources"]}
    assert facets["persons"] and facets["locations"]
    # The samples are dated, the seed is not: only dated articles are in the histogram.
    assert sum(bucket["count"] for bucket in facets["published"]) == 12


# Facet → (the search parameter its values filter on, the values of a hit it counts).
def entity_ids(label: str) -> Callable[[dict], list[str]]:
    return lambda hit: [entity["id"] for entity in hit["entities"] if entity["label"] == label]


# Entity facets count ids: each value filters to the articles naming that entity, in any spelling.
FACET_FILTERS = {
    "languages": ("lang", lambda hit: [hit["language"]]),
    "persons": ("person", entity_ids("person")),
    "locations": ("location", entity_ids("location")),
    "organizations": ("organization", entity_ids("organization")),
    "sources": ("source", lambda hit: [hit["source"]]),
    "agencies": ("agency", lambda hit: hit["agencies"]),
}


@pytest.mark.parametrize("facet", FACET_FILTERS)
def test_each_facet_value_filters_to_exactly_its_count(client, indexed, facet):  # noqa: ANN001
    parameter, hit_values = FACET_FILTERS[facet]
    values = search(client, q="*")["facets"][facet]
    assert values or facet == "agencies"  # the samples need not credit an agency
    for value in values[:3]:
        filtered = search(client, q="*", size=100, **{parameter: value["value"]})
        assert filtered["total"] == value["count"]
        assert all(value["value"] in hit_values(hit) for hit in filtered["hits"])


def test_an_entity_filter_takes_the_name_as_any_kind(client, indexed):  # noqa: ANN001
    location = search(client, q="*")["facets"]["locations"][0]
    hits = search(client, q="*", size=100, entity=location["value"])["hits"]
    assert len(hits) >= location["count"]
    assert all(location["value"] in {entity["id"] for entity in hit["entities"]} for hit in hits)


def test_two_places_must_both_be_named(client, indexed):  # noqa: ANN001
    article = next(hit for hit in search(client, q="*", size=100)["hits"] if len(hit["locations"]) >= 2)
    places = article["locations"][:2]
    both = search(client, q="*", size=100, location=places)
    assert article["id"] in {hit["id"] for hit in both["hits"]}
    assert all(set(places) <= set(hit["locations"]) for hit in both["hits"])
    assert both["total"] <= min(search(client, q="*", location=name)["total"] for name in places)


def test_a_date_bucket_filters_to_exactly_its_count(client, indexed):  # noqa: ANN001
    buckets = [bucket for bucket in search(client, q="*")["facets"]["published"] if bucket["count"]]
    for bucket in buckets:
        assert search(client, q="*", **{"from": bucket["start"], "to": bucket["end"]})["total"] == bucket["count"]
    # The EU sanctions article, published 2024-03-11 17:42+01:00: that whole day is in.
    assert search(client, q="*", **{"from": "2024-03-11", "to": "2024-03-11"})["total"] == 1


def test_pages_split_the_results_without_overlap(client, indexed):  # noqa: ANN001
    everything = search(client, q="*", size=100)
    pages = [search(client, q="*", size=5, page=page) for page in (1, 2, 3)]
    ids = [hit["id"] for page in pages for hit in page["hits"]]
    assert ids == [hit["id"] for hit in everything["hits"]][:15]
    assert all(page["total"] == everything["total"] == indexed for page in pages)
    dates = [hit["published_at"] for hit in everything["hits"] if hit["published_at"]]
    assert dates == sorted(dates, reverse=True)  # * lists the newest first
    assert search(client, q="*", size=5, page=10)["hits"] == []


def test_a_language_filter_analyses_the_query_in_that_language(client, indexed):  # noqa: ANN001
    german = search(client, q="Sanktionen", lang="de")
    assert [hit["title"] for hit in german["hits"]] == ["Bundestag debattiert über Sanktionen gegen Reedereien"]
    assert search(client, q="sanction", lang="es")["total"] == 0
