"""Entity identity on the real stack: our five-language articles (samples/articles-multilingual.jsonl)
through `newsstream ingest` and the worker, then searched by an entity's id or any of its names,
found by any spelling, shown across languages, and merged and split by a person, past articles
and new ones alike."""
from __future__ import annotations

import json

import pytest

from newsstream.settings import PROJECT_ROOT
from processors.linking import entity_id
from tests.integration.conftest import stop, wait_for

pytestmark = pytest.mark.integration

SAMPLES = PROJECT_ROOT / "samples" / "articles-multilingual.jsonl"
PUTIN, LAVROV = "per:vladimir-putin", "per:sergei-lavrov"


@pytest.fixture(scope="module")
def indexed(service, es_client):  # noqa: ANN001
    # Corrections are read again every second, so a merge reaches the worker within the test.
    worker = service.start_worker(NEWSSTREAM_ENTITY_CORRECTIONS_REFRESH_S="1")
    sent = service.cli_json("ingest", str(SAMPLES))["sent"]
    assert service.wait_for_count(es_client, sent) == sent
    yield sent
    stop(worker)


def languages_naming(service, entity: str) -> set[str]:  # noqa: ANN001
    # --all: the five articles are translations of one story, which search would show as one hit.
    return {hit["language"] for hit in service.cli_json("search", "*", "--entity", entity, "--all", "--limit", "50")}


def test_a_search_on_frances_id_finds_the_french_english_and_german_articles(service, indexed):  # noqa: ANN001
    assert {"en", "fr", "de", "es", "nl"} <= languages_naming(service, "Q142")
    # A name in any language stands for its id.
    assert languages_naming(service, "Frankreich") == languages_naming(service, "Q142")


def test_an_entity_is_found_by_any_spelling_and_shown_with_its_names_by_language(service, indexed):  # noqa: ANN001
    found = service.cli_json("entities", "find", "Mosk")
    assert "Q649" in {entity["id"] for entity in found}
    view = service.cli_json("entities", "show", "Q649")
    assert view["name"] == "Moscow" and view["articles"] == indexed
    assert "Moskau" in view["names"]["de"] and "Moscou" in view["names"]["fr"] and "Moskou" in view["names"]["nl"]
    assert view["co_occurring"] and view["per_day"]


def test_a_merge_rewrites_past_articles_and_applies_to_new_ones_and_a_split_undoes_it(service, indexed):  # noqa: ANN001
    before = languages_naming(service, LAVROV)
    assert len(before) >= 4
    merged = service.cli_json("entities", "merge", PUTIN, LAVROV)
    assert merged["action"] == "merged" and merged["articles"] == len(before)
    assert languages_naming(service, LAVROV) == set() and before <= languages_naming(service, PUTIN)

    # An article processed after the merge gets the kept id (the worker reads the corrections again).
    new = {"id": "after-merge", "title": "Lavrov arrives in Geneva for the talks",
           "body": "Russian Foreign Minister Sergei Lavrov arrived in Geneva on Friday for two days of talks "
                   "with the delegations, his spokeswoman told reporters at the airport."}
    service.cli("ingest", "-", input=json.dumps(new).encode())

    def new_article_has_the_kept_id() -> bool:
        hits = service.cli_json("search", "Geneva", "--entity", PUTIN, "--all")
        return "after-merge" in {hit["id"] for hit in hits}

    assert wait_for(new_article_has_the_kept_id, timeout_s=120)

    split = service.cli_json("entities", "split", PUTIN, LAVROV)
    assert split["action"] == "unmerged" and split["articles"] == len(before) + 1
    assert languages_naming(service, LAVROV) == before | {"en"}
    assert "after-merge" not in {hit["id"] for hit in service.cli_json("search", "*", "--entity", PUTIN, "--all", "--limit", "50")}


def test_a_spelling_split_from_a_place_gets_an_id_of_its_own(service, indexed):  # noqa: ANN001
    split = service.cli_json("entities", "split", "Q90", "Parijs")
    assert split["action"] == "split" and split["articles"] == 1
    assert "nl" not in languages_naming(service, "Q90")
    assert languages_naming(service, entity_id("location", "Parijs")) == {"nl"}
