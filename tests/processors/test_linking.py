"""The linking stage on a small knowledge base: ids across languages, ambiguity, relabelling."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from processors.knowledge import KnowledgeBase, KnownEntity, kb_key
from processors.linking import Corrections, corrected, entity_id, ids_named, link_entities, relinked
from schemas.articles import Entity, EntityLabel, Mention
from schemas.entities import EntityCorrection


def _known(id_: str, kind: str, name: str, aliases: list[str], population: int = 0,
           label: EntityLabel = "location", **names: str) -> tuple[KnownEntity, list[str]]:
    return KnownEntity(id=id_, label=label, kind=kind, name=name, names=names, population=population,
                       country=None), aliases


KB = KnowledgeBase([
    _known("Q142", "country", "France", ["Frankreich", "Francia", "Frankrijk"], fr="France", de="Frankreich"),
    _known("Q159", "country", "Russia", ["Russie", "Russland", "Rusia"]),
    _known("Q974", "country", "Democratic Republic of the Congo", ["Congo", "DR Congo"]),
    _known("Q971", "country", "Republic of the Congo", ["Congo", "Congo-Brazzaville"]),
    _known("Q649", "city", "Moscow", ["Moscou", "Moskau", "Moscú", "Mosca"], 10_381_222),
    _known("Q1899", "city", "Kyiv", ["Kiev", "Kiew", "Kyjiw"], 2_797_553),
    _known("Q90", "city", "Paris", ["Paris", "Parigi"], 2_138_551),
    _known("geonames:4717560", "city", "Paris", ["Paris"], 25_171),
    _known("Q8818", "city", "Valencia", ["Valencia", "València"], 814_208),
    _known("geonames:3625549", "city", "Valencia", ["Valencia"], 1_385_083),
    _known("Q61", "city", "Washington, D.C.", ["Washington"], 689_545),
    _known("Q7817", "organization", "World Health Organization",
           ["WHO", "OMS", "Weltgesundheitsorganisation", "Organisation mondiale de la santé"], label="organization"),
])


def _entity(text: str, label: EntityLabel, *aliases: str, count: int = 1, start: int = 0) -> Entity:
    mentions = [Mention(field="body", start=start + index, end=start + index + len(text)) for index in range(count)]
    return Entity(text=text, label=label, count=count, mentions=mentions, aliases=list(aliases))


def _link(language: str, *entities: Entity) -> list[Entity]:
    return link_entities(list(entities), language, KB)


@pytest.mark.parametrize(("language", "spelling"), [("fr", "Moscou"), ("de", "Moskau"), ("es", "Moscú"),
                                                     ("en", "Moscow"), ("de", "Moskaus")])
def test_a_city_has_one_id_and_english_name_in_every_language(language: str, spelling: str) -> None:
    [moscow] = _link(language, _entity(spelling, "location"))
    assert (moscow.id, moscow.name, moscow.text) == ("Q649", "Moscow", spelling)


def test_the_name_language_is_configurable() -> None:
    [france] = link_entities([_entity("Frankreich", "location")], "de", KB, display_language="fr")
    assert (france.id, france.name) == ("Q142", "France")


def test_unknown_names_get_an_id_from_label_and_name_key_in_any_spelling() -> None:
    [french] = _link("fr", _entity("Vladimir Poutine", "person", "Poutine"))
    [german] = _link("de", _entity("Wladimir Putin", "person"))
    assert french.id == german.id == "per:vladimir-putin"
    assert french.name == "Vladimir Poutine"
    assert entity_id("person", "Sergej Lawrow") == entity_id("person", "Sergueï Lavrov")


def test_two_spellings_of_one_place_in_one_article_become_one_entity() -> None:
    [moscow] = _link("fr", _entity("Moscou", "location", count=2), _entity("Moscow", "location", start=50))
    assert moscow.id == "Q649" and moscow.count == 3 and len(moscow.mentions) == 3
    assert moscow.text == "Moscou" and moscow.aliases == ["Moscow"]


@pytest.mark.parametrize(("text", "why"), [("Congo", "two countries bear the name"),
                                           ("Valencia", "two cities of similar size")])
def test_an_unsettled_name_gets_no_place_id(text: str, why: str) -> None:
    [entity] = _link("en", _entity(text, "location"))
    assert entity.id == entity_id("location", text), why


def test_a_dominant_namesake_wins() -> None:
    [paris] = _link("fr", _entity("Paris", "location"))
    assert paris.id == "Q90"


def test_a_place_the_model_took_for_a_person_is_relabelled_when_prominent_and_alone() -> None:
    [kyiv] = _link("de", _entity("Kiew", "person"))
    assert (kyiv.label, kyiv.id) == ("location", "Q1899")


@pytest.mark.parametrize("entity", [
    _entity("Paris Hilton", "person"),                    # a full name is a person
    _entity("Washington", "person"),                      # as often a person or a metonym
    _entity("Paris", "person", "Paris Hilton"),           # joined to a full name in the article
])
def test_person_context_keeps_the_person(entity: Entity) -> None:
    [linked] = _link("en", entity)
    assert linked.label == "person" and not linked.id.startswith("Q")


def test_a_city_tagged_as_organisation_keeps_its_label_and_gets_no_place_id() -> None:
    [washington] = _link("fr", _entity("Washington", "organization"))
    assert (washington.label, washington.id) == ("organization", "org:vashington")


def test_a_country_tagged_as_organisation_is_the_country() -> None:
    [russia] = _link("en", _entity("Russia", "organization"))
    assert (russia.label, russia.id) == ("location", "Q159")


@pytest.mark.parametrize(("language", "spelling"), [("en", "WHO"), ("fr", "OMS"), ("de", "Weltgesundheitsorganisation")])
def test_organisations_link_by_name_or_acronym(language: str, spelling: str) -> None:
    [who] = _link(language, _entity(spelling, "organization"))
    assert (who.id, who.name) == ("Q7817", "World Health Organization")


def _place(id_: str, kind: str, name: str, country: str, population: int = 0) -> tuple[KnownEntity, list[str]]:
    return KnownEntity(id=id_, label="location", kind=kind, name=name, names={}, population=population,
                       country=country), []


PLACES = KnowledgeBase([
    _place("Q38", "country", "Italy", "IT"), _place("Q30", "country", "United States", "US"),
    _place("Q1261", "territory", "Colorado", "US"), _place("Q16554", "city", "Denver", "US", 715_522),
    _place("Q1337", "city", "Denver", "GB", 820_000),  # made up, to need the qualifier
    _place("Q976478", "city", "Pampa", "US", 18_177),
], demonyms={"Italian": "Q38", "Italiens": "Q38"})


@pytest.mark.parametrize("spelling", ["Italian", "Italiens"])
def test_a_location_named_by_its_demonym_is_the_country(spelling: str) -> None:
    [italy] = link_entities([_entity(spelling, "location")], "en", PLACES)
    assert (italy.id, italy.name) == ("Q38", "Italy")


@pytest.mark.parametrize("label", ["person", "organization", "misc"])
def test_a_demonym_under_another_label_is_not_the_country(label: EntityLabel) -> None:
    [entity] = link_entities([_entity("Italian", label)], "en", PLACES)
    assert entity.id == entity_id(label, "Italian")


def test_a_qualified_place_is_the_namesake_in_the_qualifiers_country() -> None:
    assert [entity.id for entity in link_entities([_entity("Denver", "location")], "en", PLACES)] == [
        entity_id("location", "Denver")]  # two Denvers of a size
    [denver] = link_entities([_entity("Denver, Colorado", "location")], "en", PLACES)
    assert (denver.id, denver.name) == ("Q16554", "Denver")


def test_a_leading_article_is_stripped_in_its_own_language_only() -> None:
    [english] = link_entities([_entity("La Pampa", "location")], "en", PLACES)
    assert english.id == entity_id("location", "La Pampa")  # not Pampa, Texas
    [spanish] = link_entities([_entity("la Pampa", "location")], "es", PLACES)
    assert spanish.id == "Q976478"


def test_ids_named_resolves_a_typed_name() -> None:
    assert "Q649" in ids_named("Moscou", KB)
    assert "per:vladimir-putin" in ids_named("Vladimir Poutine", None)


def _merge(other: str, into: str, name: str) -> EntityCorrection:
    return EntityCorrection(id=EntityCorrection.merge_id(other), kind="merge", entity_id=other, into=into, name=name,
                            created_at=datetime.now(timezone.utc))


def _split(entity: str, spelling: str) -> EntityCorrection:
    return EntityCorrection(id=EntityCorrection.split_id(entity, kb_key(spelling)), kind="split", entity_id=entity,
                            key=kb_key(spelling), spelling=spelling, created_at=datetime.now(timezone.utc))


def test_a_merge_gives_the_kept_id_and_name_and_keeps_the_entities_apart_for_a_split() -> None:
    corrections = Corrections.of([_merge(entity_id("person", "Vladimir Vladimirovich Putin"), "per:vladimir-putin",
                                         "Vladimir Putin")])
    entities = _link("en", _entity("Vladimir Putin", "person", count=2),
                     _entity("Vladimir Vladimirovich Putin", "person", start=50))
    merged = corrected(entities, corrections)
    assert [(e.id, e.name, e.text) for e in merged] == [
        ("per:vladimir-putin", "Vladimir Putin", "Vladimir Putin"),
        ("per:vladimir-putin", "Vladimir Putin", "Vladimir Vladimirovich Putin")]
    assert relinked(merged, "en", KB, Corrections()) == entities


def test_merges_are_followed_through_chains_and_stop_at_cycles() -> None:
    chain = Corrections.of([_merge("a", "b", "B"), _merge("b", "c", "C")])
    assert chain.target("a") == "c" and chain.target("c") == "c"
    cycle = Corrections.of([_merge("a", "b", "B"), _merge("b", "a", "A")])
    assert cycle.target("a") in {"a", "b"}


def test_a_split_takes_a_spelling_away_from_an_entity() -> None:
    corrections = Corrections.of([_split("Q90", "Paris")])
    [paris] = corrected(_link("fr", _entity("Paris", "location")), corrections)
    [parigi] = corrected(_link("it", _entity("Parigi", "location")), corrections)
    assert (paris.id, paris.name) == (entity_id("location", "Paris"), "Paris")
    assert parigi.id == "Q90"


def test_relinking_a_stored_article_undoes_a_merge_that_was_taken_back() -> None:
    merge = Corrections.of([_merge("Q1899", "Q649", "Moscow")])
    stored = corrected(_link("fr", _entity("Kiev", "location")), merge)
    assert [(entity.id, entity.name) for entity in stored] == [("Q649", "Moscow")]
    assert [(entity.id, entity.name) for entity in relinked(stored, "fr", KB, Corrections())] == [("Q1899", "Kyiv")]
    assert relinked(stored, "fr", KB, merge) == stored


def test_no_corrections_change_nothing() -> None:
    entities = _link("en", _entity("Moscow", "location"))
    assert corrected(entities, Corrections()) == entities


def test_a_surname_alone_taken_for_an_unknown_place_joins_the_person() -> None:
    [macron] = _link("nl", _entity("Macron", "location"), _entity("Emmanuel Macron", "person", start=30))
    assert (macron.id, macron.label, macron.text, macron.aliases) == (
        entity_id("person", "Emmanuel Macron"), "person", "Emmanuel Macron", ["Macron"])


def test_a_known_place_named_like_a_persons_surname_stays_the_place() -> None:
    linked = _link("en", _entity("Paris", "location"), _entity("Paris", "person"),
                   _entity("Kiev", "location", start=9), _entity("Oleksandr Kiev", "person", start=40))
    assert {(entity.id, entity.label) for entity in linked} >= {("Q1899", "location")}


def test_a_name_labelled_two_ways_in_one_article_is_one_entity_under_its_commoner_label() -> None:
    [scholz] = _link("en", _entity("Olaf Scholz", "organization"), _entity("Olaf Scholz", "person", count=2, start=20))
    assert (scholz.id, scholz.label, scholz.count) == (entity_id("person", "Olaf Scholz"), "person", 3)
    [tied] = _link("en", _entity("Leopard", "misc"), _entity("Leopard", "person", start=20))
    assert tied.label == "person"


def test_corrections_read_from_a_stream_keep_merges_and_splits() -> None:
    corrections = Corrections.of(iter([_merge("a", "b", "B"), _split("Q90", "Paris")]))
    assert corrections.target("a") == "b" and corrections.split_off == {("Q90", "paris")}



def _named(id_: str, kind: str, population: int, **names: str) -> tuple[KnownEntity, list[str]]:
    return KnownEntity(id=id_, label="location", kind=kind, name=names["en"], names=names, population=population,
                       country=None), []


# Russian folds "Тунис" (Tunisia and Tunis) to "tunis": in an English text only the city's English name is.
NAMESAKES = KnowledgeBase([_named("Q948", "country", 0, en="Tunisia", ru="Тунис"),
                           _named("Q3572", "city", 693_210, en="Tunis", ru="Тунис")])


def test_of_namesakes_the_one_named_in_the_texts_language_or_english_is_meant() -> None:
    [english] = link_entities([_entity("Tunis", "location")], "en", NAMESAKES)
    assert english.id == "Q3572"
    [russian] = link_entities([_entity("Тунис", "location")], "ru", NAMESAKES)
    assert russian.id == "Q948"  # both are named so in Russian: the country, as between any city and country


def test_a_name_in_another_language_still_links_when_it_is_the_only_candidate() -> None:
    kb = KnowledgeBase([_named("Q649", "city", 10_381_222, en="Moscow", fr="Moscou")])
    [moscow] = link_entities([_entity("Moscou", "location")], "en", kb)  # a French name in an English text
    assert moscow.id == "Q649"
