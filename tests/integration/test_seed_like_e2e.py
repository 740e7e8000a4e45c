"""The shipped twin of the seed's end-to-end tests (test_pipeline_e2e's seed tests, the seed's part of
test_alerts_e2e and of the API search tests): samples/seed-like-dump.txt, our own three articles pasted
together in the seed's style, in through `newsstream ingest`, the worker, and back through
`newsstream search` / `newsstream get`, an alert rule and `GET /search`."""
from __future__ import annotations

import time

import httpx
import pytest

from newsstream.settings import PROJECT_ROOT
from tests.integration.conftest import stop, wait_for

pytestmark = pytest.mark.integration

DUMP = PROJECT_ROOT / "samples" / "seed-like-dump.txt"
MOLDOVA = "Moldavie : Irina Cebotari accepte l’invitation de Bakou à se rendre en Azerbaïdjan"
GLACIERS = "Les glaciers suisses n’ont jamais fondu aussi vite, selon le réseau de mesure"
SWEDEN = "Sweden to deliver CV90 combat vehicles to Kiev"
TITLES = {MOLDOVA: "fr", GLACIERS: "fr", SWEDEN: "en"}
CREDIT_LINES = ("Text by 20 Minuten with AFP", "RTS afp/lmr", "24heures-exemple.ch", "fbpx")
# Per article (by a word of its title): people and places that must be tagged.
ENTITIES = {
    "Moldavie": {"person": {"Irina Cebotari", "Victor Lungu", "Ana Rusu", "Sergiu Munteanu", "Pierre Delacroix"},
                 "location": {"Moldavie", "Azerbaïdjan", "Bakou", "Chisinau", "Turquie", "Bulgarie", "Roumanie"},
                 "organization": {"ONU"}},
    "glaciers": {"person": {"Claudia Berthod", "Margaret Ellison"}, "location": {"Zurich", "Valais"}},
    "Sweden": {"person": {"Karin Lindqvist", "Erik Sandberg"},
               "location": {"Sweden", "Stockholm", "Ukraine", "Norway", "Denmark"},
               "organization": {"Financial Times", "SVT", "AFP"}},
}


@pytest.fixture(scope="module")
def worker(service):  # noqa: ANN001
    # The rule is on its topic before the worker starts, so the first pass already matches it.
    added = service.cli("alerts", "add", "sanctions", "--query", "sanctions")
    assert added.returncode == 0, added.stderr.decode()
    process = service.start_worker()
    yield process
    stop(process)


@pytest.fixture(scope="module")
def seeded(service, worker, es_client):  # noqa: ANN001
    sent = service.cli_json("ingest", str(DUMP))
    assert sent["sent"] == 3
    assert service.wait_for_count(es_client, 3) == 3
    return {service.cli_json("get", article_id)["title"]: service.cli_json("get", article_id) for article_id in sent["ids"]}


def test_seed_like_dump_gives_three_clean_articles_with_their_languages(seeded):
    assert {title: article["language"] for title, article in seeded.items()} == TITLES
    for article in seeded.values():
        assert not any(line in article["body"] for line in CREDIT_LINES), article["title"]
        assert "\u00a0" not in article["body"]
    glaciers = seeded[GLACIERS]
    assert {share["code"] for share in glaciers["languages"]} == {"fr", "en"}
    assert {"20 Minutes", "AFP"} <= set(seeded[MOLDOVA]["agencies"])
    assert {"RTS", "AFP"} <= set(glaciers["agencies"])
    assert seeded[SWEDEN]["agencies"] == ["24heures-exemple.ch"]


@pytest.mark.parametrize("title_word", sorted(ENTITIES))
def test_seed_like_articles_have_their_people_and_places(seeded, title_word):
    article = next(a for t, a in seeded.items() if title_word in t)
    found: dict[str, set[str]] = {}
    for entity in article["entities"]:
        found.setdefault(entity["label"], set()).add(entity["text"])
    for label, names in ENTITIES[title_word].items():
        assert names <= found.get(label, set()), f"{title_word}/{label}: missing {names - found.get(label, set())}"


def test_search_is_language_aware_and_highlights_what_matched(service, seeded):
    hits = service.cli_json("search", "sanction")
    assert hits and hits[0]["title"] == MOLDOVA  # French "sanctions" found by "sanction"
    assert any("<mark>sanctions</mark>" in snippet for snippet in hits[0]["snippets"])
    assert service.cli_json("search", "CV90")[0]["title"] == SWEDEN
    only_english = service.cli_json("search", "*", "--lang", "en")
    assert [hit["title"] for hit in only_english] == [SWEDEN]
    with_lindqvist = service.cli_json("search", "*", "--entity", "Karin Lindqvist")
    assert [hit["title"] for hit in with_lindqvist] == [SWEDEN]


def test_the_api_search_marks_the_french_wire_article(service, seeded):
    from tests.newsstream.api.conftest import WRITE_KEY, serve, with_keys  # the API's own test helpers

    with serve(with_keys(service.settings)) as url:
        answered = httpx.get(f"{url}/search", params={"q": "sanction"}, headers={"X-API-Key": WRITE_KEY}, timeout=60)
    assert answered.status_code == 200, answered.text
    hit = next(hit for hit in answered.json()["hits"] if hit["title"] == MOLDOVA)
    assert any("<mark>sanctions</mark>" in snippet for snippet in hit["snippets"])


def test_the_sanctions_rule_alerts_the_french_wire_article_once(service, seeded, es_client):
    index = service.settings.index_alerts

    def alerted() -> list[dict]:
        if not es_client.indices.exists(index=index):
            return []
        es_client.indices.refresh(index=index)
        hits = es_client.search(index=index, size=100)["hits"]["hits"]
        return [hit["_source"] for hit in hits if hit["_source"]["rule"] == "sanctions"]

    assert wait_for(alerted), "no alert for the article about sanctions"
    assert [alert["title"] for alert in alerted()] == [MOLDOVA]
    assert all("<mark>" in alert["snippet"] for alert in alerted())


def test_ingesting_the_dump_again_keeps_three_documents(service, seeded, es_client):
    first_pass = {a["id"]: a["processed_at"] for a in seeded.values()}
    again = service.cli_json("ingest", str(DUMP))
    assert sorted(again["ids"]) == sorted(first_pass)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the worker has processed the resend
        if all(service.cli_json("get", i)["processed_at"] != first_pass[i] for i in first_pass):
            break
        time.sleep(1)
    else:
        pytest.fail("the worker did not reprocess the resent articles")
    assert service.indexed_count(es_client) == 3
