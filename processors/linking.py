"""The linking stage: each entity of an article gets its identity, the same in every article and
language — a Wikidata QID (or GeoNames id) when the knowledge base knows it, otherwise an id made
of its label and name key, which any worker computes alike (`per:vladimir-putin` for "Vladimir
Poutine" and "Wladimir Putin").

A wrong merge does more harm than a missed one: a name that several known entities bear and that
nothing settles (two countries called Congo, two big cities called Valencia) is not linked, and
a place name the model tagged as something else is only taken for the place when nothing says
otherwise.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from processors.knowledge import SHIPPED_GAZETTEER, KnowledgeBase, KnownEntity, kb_key
from processors.names import key_slug, name_key
from schemas.alerts import Rule
from schemas.articles import Entity, EntityLabel
from schemas.entities import EntityCorrection

ID_PREFIXES: dict[EntityLabel, str] = {"person": "per", "location": "loc", "organization": "org", "misc": "misc"}
# People settle a handful of entities, not thousands: all corrections are read in one search.
MAX_CORRECTIONS = 10_000
_NAME_ID_PREFIXES = tuple(f"{prefix}:" for prefix in ID_PREFIXES.values())
_NATIONS = frozenset({"country", "continent"})
# A single-word "person" is taken for a place only when the place is this prominent: the model
# tags big places as persons ("Kiev"), small ones are mostly surnames.
_PROMINENT_POPULATION = 1_000_000
# A city is chosen among namesakes only when it is this many times bigger than the next one.
_CITY_DOMINANCE = 3
# Territories give way to a namesake city this big ("New York" the city, not the state).
_BIG_CITY = 500_000
# Place names that are as often people or metonyms in the news ("Washington said"): never relabelled.
_PERSON_LIKE_PLACES = frozenset(kb_key(name) for name in (
    "Washington", "Lincoln", "Jackson", "Houston", "Austin", "Florence", "Victoria", "Charlotte",
    "Madison", "Jordan", "Kingston", "Hamilton", "Wellington", "Chester", "Eugene", "Santiago",
    "Salvador", "Israel", "Georgia", "Florida", "Paris", "Sydney", "Orlando", "Phoenix", "Denver",
    "Nancy", "Valence", "Lorraine", "Adelaide", "Alexandria", "Cleveland", "Dallas", "Jefferson",
))
# The articles of each language that NER keeps in a name at times ("the United States", "la Chine"):
# only the article's own language's, so that "La Pampa" in English is not "the Pampa".
_LEADING_ARTICLES: Mapping[str, frozenset[str]] = {
    "en": frozenset({"the"}), "fr": frozenset({"le", "la", "les", "l"}),
    "de": frozenset({"der", "die", "das", "den", "dem", "des"}), "es": frozenset({"el", "la", "los", "las"}),
    "it": frozenset({"il", "lo", "la", "l", "gli", "le", "i"}), "nl": frozenset({"de", "het"}),
    "pt": frozenset({"o", "a", "os", "as"}),
}
# German and Dutch add -s to names in the genitive ("Moskaus", "Deutschlands"): tried when the
# name itself is unknown.
_GENITIVE_S = frozenset({"de", "nl"})


@lru_cache(maxsize=4)
def load_knowledge_base(path: Path | None = None) -> KnowledgeBase:
    """The knowledge base at `path` (default: the shipped gazetteer), once per process."""
    return KnowledgeBase.load(path or SHIPPED_GAZETTEER)


def entity_id(label: EntityLabel, text: str, language: str = "") -> str:
    """The id of an entity the knowledge base does not know: label and name key."""
    return f"{ID_PREFIXES[label]}:{key_slug(name_key(text, language))}"


def _keys(spelling: str, language: str, label: EntityLabel) -> list[str]:
    key = kb_key(spelling)
    keys = [key] if key else []
    first, _, rest = key.partition(" ")
    if rest and first in _LEADING_ARTICLES.get(language, ()):
        keys.append(rest)
    if key.endswith("s") and len(key) > 4 and language in _GENITIVE_S and label != "person":
        keys.append(key[:-1])
    return keys


def _choose_place(candidates: Sequence[KnownEntity], context: frozenset[str] = frozenset()) -> KnownEntity | None:
    """The one place a name means, or None when it is not settled. `context`: the countries of the
    article's other places; of namesake cities none of which dominates, the one in them when only
    one is ("Valencia" beside "Spain"). A dominant city is never overruled by it: a French article
    naming the United States still means Paris, France."""
    places = list({place.id: place for place in candidates if place.label == "location"}.values())
    nations = [place for place in places if place.kind in _NATIONS]
    if nations:
        return nations[0] if len(nations) == 1 else None
    cities = sorted((place for place in places if place.kind == "city"), key=lambda place: -place.population)
    territories = [place for place in places if place.kind not in ("city", *_NATIONS)]
    # A region named like a city of its own country is mostly the city in the news ("Zürich",
    # "Genève", "New York"), and so is one with a big namesake city anywhere.
    if territories and not (cities and (cities[0].population >= _BIG_CITY
                                        or cities[0].country in {place.country for place in territories})):
        return territories[0] if len(territories) == 1 else None
    if not cities:
        return None
    if len(cities) > 1 and cities[0].population < _CITY_DOMINANCE * cities[1].population:
        in_context = [city for city in cities if city.country in context]
        return in_context[0] if len(in_context) == 1 else None
    return cities[0]


def _choose_organization(candidates: Sequence[KnownEntity]) -> KnownEntity | None:
    organizations = {found.id: found for found in candidates if found.label == "organization"}
    return next(iter(organizations.values())) if len(organizations) == 1 else None


def _qualified_place(spelling: str, language: str, kb: KnowledgeBase,
                     context: frozenset[str]) -> KnownEntity | None:
    """ "Denver, Colorado", "Victoria, Canada", "Houston, TX": the place the head names, among
    those of the qualifier's country when the knowledge base knows the qualifier."""
    head, _, qualifier = spelling.partition(",")
    candidates = [place for key in _keys(head, language, "location")
                  for place in kb.candidates(key, language=language)]
    countries = {place.country for place in kb.candidates(kb_key(qualifier)) if place.label == "location"} - {None}
    if countries:
        candidates = [place for place in candidates if place.country in countries and place.kind not in _NATIONS]
    return _choose_place(candidates, context)


def _known(entity: Entity, language: str, kb: KnowledgeBase,
           context: frozenset[str]) -> tuple[KnownEntity, EntityLabel] | None:
    if entity.label == "location":
        for spelling in (entity.text, *entity.aliases):
            # A location named by an adjective or a people ("Italian", "the French") is its country.
            if (nation := kb.demonym(kb_key(spelling))) is not None:
                return nation, "location"
            if "," in spelling and not kb.candidates(kb_key(spelling)) and (
                    place := _qualified_place(spelling, language, kb, context)):
                return place, "location"
    for spelling in (entity.text, *entity.aliases):
        for key in _keys(spelling, language, entity.label):
            # "misc" is mostly adjectives and events: only a place's very name makes it the place.
            candidates = kb.candidates(key, names_only=entity.label == "misc", language=language)
            if not candidates:
                continue
            if entity.label == "organization" and (organization := _choose_organization(candidates)):
                return organization, "organization"
            place = _choose_place(candidates, context)
            if place is None:
                continue
            if entity.label == "location":
                return place, "location"
            if entity.label == "person":
                prominent = place.kind in _NATIONS or place.population >= _PROMINENT_POPULATION
                single = " " not in spelling and not any(" " in alias for alias in entity.aliases)
                if single and prominent and key not in _PERSON_LIKE_PLACES:
                    return place, "location"
            elif place.kind in _NATIONS:
                return place, "location"  # "Russia" tagged as an organisation or misc is the country
    return None


def link_entity(entity: Entity, language: str, kb: KnowledgeBase, display_language: str = "en",
                context: frozenset[str] = frozenset()) -> Entity:
    found = _known(entity, language, kb, context)
    if found is None:
        return entity.model_copy(update={"id": entity_id(entity.label, entity.text, language), "name": entity.text})
    known, label = found
    return entity.model_copy(update={"id": known.id, "name": known.display_name(display_language), "label": label})


def _merged(group: list[Entity]) -> Entity:
    if len(group) == 1:
        return group[0]
    first = max(group, key=lambda entity: (entity.count, len(entity.text)))  # ties: the fuller name
    mentions = sorted((m for entity in group for m in entity.mentions),
                      key=lambda m: (0 if m.field == "title" else 1, m.start))
    spellings = {spelling for entity in group for spelling in (entity.text, *entity.aliases)}
    return first.model_copy(update={
        "count": sum(entity.count for entity in group), "mentions": mentions,
        "aliases": sorted(spellings - {first.text}),
    })


def link_entities(entities: Sequence[Entity], language: str, kb: KnowledgeBase,
                  display_language: str = "en") -> list[Entity]:
    """One article's entities with their ids and canonical names; entities that turn out to be one
    ("Moscou" and "Moscow" in a bilingual article) are merged, most mentioned first."""
    alone = [link_entity(entity, language, kb, display_language) for entity in entities]
    # The countries of the article's places settle what linking alone left open: only entities
    # without a knowledge-base id are linked again, so the others' countries are all the context.
    countries = frozenset(country for entity in alone if (country := _country_of(entity, kb)))
    linked = _one_label_per_name([
        link_entity(entity, language, kb, display_language, countries) if countries and is_name_id(first.id)
        else first
        for entity, first in zip(entities, alone, strict=True)], language)
    surnames = _surnames(linked)
    groups: dict[str, list[Entity]] = defaultdict(list)
    for entity in linked:
        person = surnames.get(name_key(entity.text, language)) if _unknown_single_word(entity) else None
        groups[person.id if person else entity.id].append(
            entity.model_copy(update={"id": person.id, "name": person.name, "label": "person"}) if person else entity)
    return _by_count(_merged(group) for group in groups.values())


def _country_of(entity: Entity, kb: KnowledgeBase) -> str | None:
    known = kb.get(entity.id) if entity.label == "location" else None
    return known.country if known is not None else None


# Which label an unknown name takes when the model gave it several in one article, counts tied.
_LABEL_PREFERENCE: tuple[EntityLabel, ...] = ("person", "organization", "location", "misc")


def _one_label_per_name(entities: list[Entity], language: str) -> list[Entity]:
    """A name the knowledge base does not know and the model labelled two ways in one article
    ("Olaf Scholz" a person and an organisation) is one entity, under its most frequent label."""
    counts: dict[str, dict[EntityLabel, int]] = defaultdict(lambda: defaultdict(int))
    for entity in entities:
        if is_name_id(entity.id):
            counts[name_key(entity.text, language)][entity.label] += entity.count
    chosen = {key: max(labels, key=lambda label: (labels[label], -_LABEL_PREFERENCE.index(label)))
              for key, labels in counts.items() if len(labels) > 1}
    relabelled = []
    for entity in entities:
        label = chosen.get(name_key(entity.text, language)) if is_name_id(entity.id) else None
        relabelled.append(entity.model_copy(update={"label": label, "id": entity_id(label, entity.text, language)})
                          if label and label != entity.label else entity)
    return relabelled


def is_name_id(entity_id_: str) -> bool:
    """An id made of a label and a name key, not the knowledge base's."""
    return entity_id_.startswith(_NAME_ID_PREFIXES)


def _surnames(entities: Sequence[Entity]) -> dict[str, Entity]:
    """The persons of an article with a full name, by the key of their surname (one person each)."""
    by_surname: dict[str, list[Entity]] = defaultdict(list)
    for entity in entities:
        if entity.label == "person" and " " in entity.text:
            by_surname[name_key(entity.text.rsplit(" ", 1)[1])].append(entity)
    return {key: found[0] for key, found in by_surname.items() if len({entity.id for entity in found}) == 1}


def _unknown_single_word(entity: Entity) -> bool:
    # A surname alone the model took for a place or a body ("Macron" after "Emmanuel Macron"): only
    # when the knowledge base knows no such place, so "Washington" beside "George Washington" stays.
    return entity.label != "person" and " " not in entity.text and is_name_id(entity.id)


def _by_count(entities: Iterable[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda entity: -entity.count)  # stable: ties keep the order they came in


def ids_named(name: str, kb: KnowledgeBase | None) -> list[str]:
    """Every id a typed name may stand for: the known entities bearing it, and the id it has under
    each label when the knowledge base does not know it ("Moscou" -> Moscow's id, "loc:mosku", …)."""
    known = [entity.id for entity in kb.candidates(kb_key(name))] if kb is not None and kb_key(name) else []
    return sorted({*known, *(entity_id(label, name) for label in ID_PREFIXES)})


def resolve_name(name: str, kb: KnowledgeBase) -> KnownEntity | None:
    """The one known entity a typed name stands for (a rule's entity is saved as its id); None
    when the knowledge base knows none or several."""
    found = {entity.id: entity for entity in kb.candidates(kb_key(name))}
    return next(iter(found.values())) if len(found) == 1 else None


def with_entity_resolved(rule: Rule, kb: KnowledgeBase) -> Rule:
    """The rule with its entity as an id when the knowledge base settles the name (or knows the id)."""
    if rule.entity is None:
        return rule
    known = kb.get(rule.entity) or resolve_name(rule.entity, kb)
    return rule.model_copy(update={"entity": known.id, "entity_name": known.name}) if known else rule


@dataclass(frozen=True)
class Corrections:
    """What people settled (`newsstream entities merge` / `split`), applied after linking."""

    merged_into: Mapping[str, str] = field(default_factory=dict)  # id -> the id it was merged into
    names: Mapping[str, str] = field(default_factory=dict)  # kept id -> its display name
    split_off: frozenset[tuple[str, str]] = frozenset()  # (id, kb_key of a spelling): that spelling is not that entity

    @classmethod
    def of(cls, records: Iterable[EntityCorrection]) -> "Corrections":
        records = list(records)
        merges = {r.entity_id: (r.into, r.name) for r in records if r.kind == "merge" and r.into}
        return cls(merged_into={other: into for other, (into, _) in merges.items()},
                   names={into: name for into, name in merges.values() if name},
                   split_off=frozenset((r.entity_id, r.key) for r in records if r.kind == "split" and r.key))

    @classmethod
    def from_search(cls, response: Mapping[str, Any]) -> "Corrections":
        """The corrections a search of the entity-corrections index returned."""
        return cls.of(EntityCorrection.model_validate(hit["_source"]) for hit in response["hits"]["hits"])

    def __bool__(self) -> bool:
        return bool(self.merged_into or self.split_off)

    def target(self, entity_id_: str) -> str:
        seen = {entity_id_}
        while (into := self.merged_into.get(entity_id_)) is not None and into not in seen:  # a cycle stops
            seen.add(into)
            entity_id_ = into
        return entity_id_


def corrected(entities: Sequence[Entity], corrections: Corrections) -> list[Entity]:
    """The entities with every merge and split applied. Entities a merge gave one id stay apart
    in the article (each with its own spellings and mentions), so that a split can undo it."""
    if not corrections:
        return list(entities)
    result = []
    for entity in entities:
        if (entity.id, kb_key(entity.text)) in corrections.split_off:
            entity = entity.model_copy(update={"id": entity_id(entity.label, entity.text), "name": entity.text})
        target = corrections.target(entity.id)
        if target != entity.id:
            entity = entity.model_copy(update={"id": target, "name": corrections.names.get(target, entity.name)})
        result.append(entity)
    return result


def relinked(entities: Sequence[Entity], language: str, kb: KnowledgeBase, corrections: Corrections,
             display_language: str = "en") -> list[Entity]:
    """A stored article's entities linked again from their spellings, with the corrections in
    force: what merge and split apply to past articles."""
    return corrected(link_entities(entities, language, kb, display_language), corrections)
