"""End to end on the real stack: wire dumps in through `newsstream ingest`, the Faust worker,
and the results read back through `newsstream search`, `newsstream get`, an alert rule and `GET /search`.

Each test runs on two dumps of three articles in the same style: the user's seed (../shared, skipped
when absent) and samples/seed-like-dump.txt, our own articles pasted together like the seed (no-break
spaces, typographic apostrophes, English lines in a French article, credit lines), each in a lane of
its own."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from newsstream.settings import PROJECT_ROOT
from tests.integration.conftest import SHARED, Service, stop, wait_for

pytestmark = pytest.mark.integration

ROLES = ("visit", "science", "deliveries")


@dataclass(frozen=True)
class Dump:
    """A dump and what the pipeline must make of its three articles, named by their roles: a French
    wire article about a visit (the one about sanctions), a French one quoting English, an English one."""

    name: str
    path: Path
    visit: str  # the titles
    science: str
    deliveries: str
    credit_lines: tuple[str, ...]  # none of which may stay in a body
    visit_agencies: frozenset[str]  # at least these
    science_agencies: frozenset[str]
    deliveries_agencies: list[str]  # exactly these
    deliveries_word: str  # a word that finds the English article first
    deliveries_person: str  # a person only it names
    entities: dict[str, dict[str, set[str]]]  # role: label: names that must be tagged

    @property
    def languages(self) -> dict[str, str]:
        return {self.visit: "fr", self.science: "fr", self.deliveries: "en"}


SEED = Dump(
    name="seed",
    path=SHARED / "samples" / "seed-wire-dump.txt",
    visit="Russie : Vladimir Poutine accepte l’invitation de Kim Jong-un à se rendre en Corée du Nord",
    science="L’horloge de l’apocalypse n’a jamais été aussi proche de minuit, l’heure de la fin des temps",
    deliveries="Germany to deliver Leopard 2 tanks to Kiev",
    credit_lines=("Text by 20 Minutes with AFP", "RTS afp/fgn", "20min.ch", "fbpx"),
    visit_agencies=frozenset({"20 Minutes", "AFP"}),
    science_agencies=frozenset({"RTS", "AFP"}),
    deliveries_agencies=["20min.ch"],
    deliveries_word="Leopard",
    deliveries_person="Olaf Scholz",
    entities={
        "visit": {"person": {"Vladimir Poutine", "Kim Jong-un", "Sergueï Lavrov", "Denis Mantourov", "John Kirby",
                             "Matthew Miller"},
                  # fr_core_news_md tags "cosmodrome de Vostotchny" as misc, so Vostotchny is not required here.
                  "location": {"Pyongyang", "Moscou", "Corée du Nord", "Russie", "Vladivostok", "Ukraine"},
                  "organization": {"ONU"}},
        "science": {"person": {"Rachel Bronson", "Albert Einstein"}, "location": {"Ukraine", "Washington"}},
        "deliveries": {"person": {"Olaf Scholz", "Boris Pistorius"},
                       "location": {"Berlin", "Germany", "Poland", "Finland", "Warsaw", "Ukraine"},
                       "organization": {"Wall Street Journal", "NTV", "AFP", "Krauss-Maffei"}},
    },
)
SEED_LIKE = Dump(
    name="seed-like",
    path=PROJECT_ROOT / "samples" / "seed-like-dump.txt",
    visit="Moldavie : Irina Cebotari accepte l’invitation de Bakou à se rendre en Azerbaïdjan",
    science="Les glaciers suisses n’ont jamais fondu aussi vite, selon le réseau de mesure",
    deliveries="Sweden to deliver CV90 combat vehicles to Kiev",
    credit_lines=("Text by 20 Minuten with AFP", "RTS afp/lmr", "24heures-exemple.ch", "fbpx"),
    visit_agencies=frozenset({"20 Minutes", "AFP"}),  # "20 Minuten" is an alias of the publisher
    science_agencies=frozenset({"RTS", "AFP"}),
    deliveries_agencies=["24heures-exemple.ch"],
    deliveries_word="CV90",
    deliveries_person="Karin Lindqvist",
    entities={
        "visit": {"person": {"Irina Cebotari", "Victor Lungu", "Ana Rusu", "Sergiu Munteanu", "Pierre Delacroix"},
                  "location": {"Moldavie", "Azerbaïdjan", "Bakou", "Chisinau", "Turquie", "Bulgarie", "Roumanie"},
                  "organization": {"ONU"}},
        "science": {"person": {"Claudia Berthod", "Margaret Ellison"}, "location": {"Zurich", "Valais"}},
        "deliveries": {"person": {"Karin Lindqvist", "Erik Sandberg"},
                       "location": {"Sweden", "Stockholm", "Ukraine", "Norway", "Denmark"},
                       "organization": {"Financial Times", "SVT", "AFP"}},
    },
)


@pytest.fixture(scope="module", params=[SEED, SEED_LIKE], ids=lambda dump: dump.name)
def dump(request) -> Dump:  # noqa: ANN001
    if not request.param.path.is_file():
        pytest.skip(f"{request.param.path} is not here")
    return request.param


@pytest.fixture(scope="module")
def service(dump, es_client, tmp_path_factory):  # noqa: ANN001
    """Overrides conftest's `service` (one lane per module) with a lane per dump, so that each dump
    is alone in its index."""
    from newsstream.measure.lanes import open_lane, remove_run

    run = uuid.uuid4().hex[:8]
    lane = open_lane(run, dump.name, es_client, tmp_path_factory.mktemp("logs"), nlp_processes=1,
                     outbound_allow="127.0.0.1")
    yield Service(env=lane.env, settings=lane.settings, log=lane.log)
    remove_run(run, lane.settings, es_client)


@pytest.fixture(scope="module")
def worker(service):  # noqa: ANN001
    # The rule is on its topic before the worker starts, so the first pass already matches it.
    added = service.cli("alerts", "add", "sanctions", "--query", "sanctions")
    assert added.returncode == 0, added.stderr.decode()
    process = service.start_worker()
    yield process
    stop(process)


@pytest.fixture(scope="module")
def seeded(dump, service, worker, es_client):  # noqa: ANN001
    sent = service.cli_json("ingest", str(dump.path))
    assert sent["sent"] == 3
    assert service.wait_for_count(es_client, 3) == 3
    return {service.cli_json("get", article_id)["title"]: service.cli_json("get", article_id) for article_id in sent["ids"]}


def test_the_dump_gives_three_clean_articles_with_their_languages(dump, seeded):
    assert {title: article["language"] for title, article in seeded.items()} == dump.languages
    for article in seeded.values():
        assert not any(line in article["body"] for line in dump.credit_lines), article["title"]
        assert "\u00a0" not in article["body"]
    science = seeded[dump.science]
    assert {share["code"] for share in science["languages"]} == {"fr", "en"}
    assert dump.visit_agencies <= set(seeded[dump.visit]["agencies"])
    assert dump.science_agencies <= set(science["agencies"])
    assert seeded[dump.deliveries]["agencies"] == dump.deliveries_agencies


@pytest.mark.parametrize("role", ROLES)
def test_the_articles_have_their_people_and_places(dump, seeded, role):
    article = seeded[getattr(dump, role)]
    found: dict[str, set[str]] = {}
    for entity in article["entities"]:
        found.setdefault(entity["label"], set()).add(entity["text"])
    for label, names in dump.entities[role].items():
        assert names <= found.get(label, set()), f"{role}/{label}: missing {names - found.get(label, set())}"


def test_search_is_language_aware_and_highlights_what_matched(dump, service, seeded):
    hits = service.cli_json("search", "sanction")
    assert hits and hits[0]["title"] == dump.visit  # French "sanctions" found by "sanction"
    assert any("<mark>sanctions</mark>" in snippet for snippet in hits[0]["snippets"])
    assert service.cli_json("search", dump.deliveries_word)[0]["title"] == dump.deliveries
    only_english = service.cli_json("search", "*", "--lang", "en")
    assert [hit["title"] for hit in only_english] == [dump.deliveries]
    with_the_person = service.cli_json("search", "*", "--entity", dump.deliveries_person)
    assert [hit["title"] for hit in with_the_person] == [dump.deliveries]


def test_the_api_search_marks_the_french_wire_article(dump, service, seeded):
    from tests.newsstream.api.conftest import WRITE_KEY, serve, with_keys  # the API's own test helpers

    with serve(with_keys(service.settings)) as url:
        answered = httpx.get(f"{url}/search", params={"q": "sanction"}, headers={"X-API-Key": WRITE_KEY}, timeout=60)
    assert answered.status_code == 200, answered.text
    hit = next(hit for hit in answered.json()["hits"] if hit["title"] == dump.visit)
    assert any("<mark>sanctions</mark>" in snippet for snippet in hit["snippets"])


def test_the_sanctions_rule_alerts_the_french_wire_article_once(dump, service, seeded, es_client):
    index = service.settings.index_alerts

    def alerted() -> list[dict]:
        if not es_client.indices.exists(index=index):
            return []
        es_client.indices.refresh(index=index)
        hits = es_client.search(index=index, size=100)["hits"]["hits"]
        return [hit["_source"] for hit in hits if hit["_source"]["rule"] == "sanctions"]

    assert wait_for(alerted), "no alert for the article about sanctions"
    assert [alert["title"] for alert in alerted()] == [dump.visit]
    assert all("<mark>" in alert["snippet"] for alert in alerted())


def test_ingesting_the_dump_again_keeps_three_documents(dump, service, seeded, es_client):
    first_pass = {a["id"]: a["processed_at"] for a in seeded.values()}
    again = service.cli_json("ingest", str(dump.path))
    assert sorted(again["ids"]) == sorted(first_pass)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the worker has processed the resend
        if all(service.cli_json("get", i)["processed_at"] != first_pass[i] for i in first_pass):
            break
        time.sleep(1)
    else:
        pytest.fail("the worker did not reprocess the resent articles")
    assert service.indexed_count(es_client) == 3


# Last in each lane: the dump's tests above expect its three articles alone in the index.
def test_shipped_samples_go_through(service, worker, es_client):
    before = service.indexed_count(es_client)
    sent = service.cli_json("ingest", str(PROJECT_ROOT / "samples" / "articles.jsonl"))
    assert sent["sent"] >= 10
    assert service.wait_for_count(es_client, before + sent["sent"]) == before + sent["sent"]
    german = service.cli_json("search", "Sanktion", "--lang", "de")
    assert german, "a German article about Sanktionen should match Sanktion"
