"""The shipped gazetteer, read as the linker reads it: ids across languages, record shapes."""
from __future__ import annotations

import gzip
import re
import tomllib

import orjson
import pytest

from newsstream.measure.build_gazetteer import CURATED_CITIES, SHORT_NAMES
from processors.knowledge import SHIPPED_GAZETTEER, KnowledgeBase, KnownEntity, kb_key
from processors.linking import link_entity
from schemas.articles import Entity, EntityLabel, Mention


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


@pytest.fixture(scope="module")
def records() -> list[dict]:
    with gzip.open(SHIPPED_GAZETTEER, "rb") as lines:
        return [orjson.loads(line) for line in lines if line.strip()]


def _linked_id(kb: KnowledgeBase, text: str, label: EntityLabel, language: str) -> str | None:
    entity = Entity(text=text, label=label, count=1, mentions=[Mention(field="body", start=0, end=len(text))])
    return link_entity(entity, language, kb).id


def _one(kb: KnowledgeBase, name: str, kind: str) -> KnownEntity:
    found = {entity.id: entity for entity in kb.candidates(kb_key(name)) if entity.kind == kind}
    assert len(found) == 1, (name, sorted(found))
    return next(iter(found.values()))


def test_france_is_q142_with_its_names_in_other_languages(kb: KnowledgeBase) -> None:
    france = kb.get("Q142")
    assert france is not None and (france.kind, france.label, france.country) == ("country", "location", "FR")
    assert france.names["de"] == "Frankreich" and france.names["es"] == "Francia"
    assert _one(kb, "Frankreich", "country").id == "Q142"


@pytest.mark.parametrize(("spellings", "language", "expected"), [
    (["Moscow", "Moscou", "Moskau", "Moscú"], "en", "Q649"),
    (["London", "Londres", "Londra"], "en", "Q84"),
    (["Paris", "Parigi", "París"], "en", "Q90"),
])
def test_a_city_gets_its_qid_in_every_spelling(kb: KnowledgeBase, spellings: list[str], language: str,
                                               expected: str) -> None:
    assert {_linked_id(kb, spelling, "location", language) for spelling in spellings} == {expected}


@pytest.mark.parametrize(("spelling", "language", "expected"), [
    ("Seattle", "en", "Q5083"), ("Colchester", "en", "Q184163"), ("Stuttgart", "de", "Q1022"),
    ("Manchester", "fr", "geonames:2643123"),  # the source's QID is the settlement's twin item: left out
])
def test_cities_beyond_the_curated_ones_have_their_qid(kb: KnowledgeBase, spelling: str, language: str,
                                                       expected: str) -> None:
    assert _linked_id(kb, spelling, "location", language) == expected


@pytest.mark.parametrize(("spelling", "expected"), [("Italian", "Q38"), ("German", "Q183"), ("Scottish", "Q22")])
def test_a_location_named_by_a_demonym_is_its_country(kb: KnowledgeBase, spelling: str, expected: str) -> None:
    assert _linked_id(kb, spelling, "location", "en") == expected
    assert _linked_id(kb, spelling, "misc", "en") != expected


def test_a_city_state_is_one_city_record(kb: KnowledgeBase, records: list[dict]) -> None:
    """rigour's federal city `ru-mow` and GeoNames' Moscow share Q649: one record, a city."""
    assert [record["kind"] for record in records if record["id"] == "Q649"] == ["city"]
    russian = {entity.id for spelling in ("Moscow", "Moskau", "Moscou", "Moscú")
               for entity in kb.candidates(kb_key(spelling)) if entity.country == "RU"}
    assert russian == {"Q649"}  # Moscow, Idaho is another city


def test_curated_city_qids_are_well_formed_unique_and_shipped(records: list[dict]) -> None:
    with CURATED_CITIES.open("rb") as file:
        curated = tomllib.load(file)["city"]
    qids = [entry["id"] for entry in curated]
    assert len(curated) >= 150
    assert all(re.fullmatch(r"Q\d+", qid) for qid in qids)
    assert len(qids) == len(set(qids)) and len({entry["geonames"] for entry in curated}) == len(curated)
    kinds = {record["id"]: record["kind"] for record in records}
    # Every curated city is in the file: as a city, or absorbed by its country (Monaco, Singapore).
    assert {qid: kinds.get(qid) for qid in qids if kinds.get(qid) not in ("city", "country")} == {}


def test_germany_in_three_languages(kb: KnowledgeBase) -> None:
    assert {_one(kb, name, "country").id for name in ("Germany", "Allemagne", "Deutschland")} == {"Q183"}


def test_who_is_one_organisation_under_its_acronyms_and_names(kb: KnowledgeBase) -> None:
    ids = {_linked_id(kb, name, "organization", "en") for name in ("WHO", "OMS", "Weltgesundheitsorganisation")}
    assert ids == {"Q7817"}


def test_every_record_has_an_open_id_and_a_known_shape(records: list[dict]) -> None:
    assert len(records) > 1000
    ids = [record["id"] for record in records]
    assert len(ids) == len(set(ids))
    for record in records:
        assert re.fullmatch(r"Q\d+|geonames:\d+", record["id"]), record["id"]
        assert record["label"] in ("location", "organization")
        assert record["kind"] in ("country", "territory", "city", "continent", "region", "sea", "organization")
        assert record["name"] and isinstance(record["population"], int)
        assert record["country"] is None or re.fullmatch(r"[A-Z]{2}", record["country"])


def test_no_alias_of_two_characters_or_less_but_the_few_the_news_uses(records: list[dict]) -> None:
    short = {(record["id"], alias) for record in records for alias in record["aliases"] if len(alias.strip()) <= 2}
    assert short == {(qid, name) for qid, names in SHORT_NAMES.items() for name in names if len(name) <= 2}


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("Atlantic", "en", "Q97"), ("Atlantique", "fr", "Q97"), ("Mittelmeer", "de", "Q4918"),
    ("Moyen-Orient", "fr", "Q7204"), ("Nahost", "de", "Q7204"), ("América Latina", "es", "Q12585"),
    ("Central Asia", "en", "Q27275"), ("Zentralasien", "de", "Q27275"), ("Southeast Asia", "en", "Q11708"),
    ("Südafrika", "de", "Q258"),  # the country, not the UN's Southern Africa
])
def test_oceans_seas_and_world_regions_in_several_languages(kb: KnowledgeBase, text: str, language: str,
                                                            expected: str) -> None:
    assert _linked_id(kb, text, "location", language) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("N.J.", "Q1408"), ("Calif.", "Q99"), ("Calif", "Q99"), ("Tenn.", "Q1509"), ("Fla.", "Q812"), ("U.K.", "Q145"),
])
def test_agency_abbreviations_of_us_states_and_the_uk(kb: KnowledgeBase, text: str, expected: str) -> None:
    assert _linked_id(kb, text, "location", "en") == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Brasilia", "Q2844"), ("Tunis", "Q3572"),  # once Finnish and another language's names of the countries
    ("Holland", "Q55"),  # kept: the news means the Netherlands
])
def test_a_city_is_not_taken_for_a_country_that_bears_its_name_in_another_language(
        kb: KnowledgeBase, text: str, expected: str) -> None:
    assert _linked_id(kb, text, "location", "en") == expected
