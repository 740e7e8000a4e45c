"""The knowledge base the linker reads: places, countries and organisations with open ids and
their names in many languages, loaded from the shipped gazetteer into a lookup by name key.

The gazetteer (`knowledge/dist/gazetteer.jsonl.gz`, built offline by
`newsstream.measure.build_gazetteer`; sources and licences in `knowledge/PROVENANCE.md`) is read
once per process.
"""
from __future__ import annotations

import gzip
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from processors.names import fold
from schemas.articles import EntityLabel

SHIPPED_GAZETTEER = Path(__file__).resolve().parents[1] / "knowledge" / "dist" / "gazetteer.jsonl.gz"


def kb_key(spelling: str) -> str:
    """How the knowledge base matches a name: folded (case, accents, scripts, punctuation), not
    keyed by the spelling rules of persons' names: places and bodies are listed with their
    spellings, and the rules would make distinct ones collide ("Rhône" and Rhoon)."""
    return fold(spelling)


@dataclass(frozen=True, slots=True)
class KnownEntity:
    id: str
    label: EntityLabel
    kind: str  # country, territory, city, continent, organization
    name: str  # English
    names: Mapping[str, str]  # preferred name by language
    population: int
    country: str | None

    def display_name(self, language: str) -> str:
        return self.names.get(language, self.name)


class KnowledgeBase:
    """Known entities by the name keys of their names and aliases."""

    def __init__(self, entries: Iterable[tuple[KnownEntity, Iterable[str]]],
                 demonyms: Mapping[str, str] | None = None) -> None:
        by_key: dict[str, list[KnownEntity]] = defaultdict(list)
        self._by_id: dict[str, KnownEntity] = {}
        self._primary: set[tuple[str, str]] = set()  # (key, id) of names, not aliases
        self._any_language: set[tuple[str, str]] = set()  # (key, id) of English names and aliases
        self._name_languages: dict[tuple[str, str], set[str]] = defaultdict(set)  # the other names'
        for entity, aliases in entries:
            self._by_id[entity.id] = entity
            primary = {key for spelling in (entity.name, *entity.names.values()) for key in _keys_of(spelling)}
            self._primary.update((key, entity.id) for key in primary)
            unqualified = {key for spelling in (entity.name, entity.names.get("en", ""), *aliases)
                           for key in _keys_of(spelling)}
            self._any_language.update((key, entity.id) for key in unqualified)
            for language, spelling in entity.names.items():
                for key in _keys_of(spelling) - unqualified:
                    self._name_languages[(key, entity.id)].add(language)
            for key in primary | unqualified:
                by_key[key].append(entity)
        self._by_key = {key: tuple(found) for key, found in by_key.items()}
        self._demonyms = {key: self._by_id[entity_id] for spelling, entity_id in (demonyms or {}).items()
                          for key in _keys_of(spelling) if entity_id in self._by_id}

    @classmethod
    def load(cls, path: Path = SHIPPED_GAZETTEER) -> "KnowledgeBase":
        with gzip.open(path, "rb") as lines:
            records = [orjson.loads(line) for line in lines if line.strip()]
        demonyms = {spelling: record["id"] for record in records for spelling in record.get("demonyms", ())}
        return cls((_entry(record) for record in records), demonyms)

    def candidates(self, key: str, names_only: bool = False, language: str | None = None) -> tuple[KnownEntity, ...]:
        """The entities a key names; with `names_only`, those whose name (in some language) it
        is, not an alias ("Russian" is an alias of Russia, not its name). With `language`, of
        several entities those it names in that language, in English or by an alias, if any: in
        an English text "Tunis" is the city, not Tunisia's Russian name "Тунис", and "Granada" the
        Spanish city, not the Spanish name of Grenada."""
        found = self._by_key.get(key, ())
        if names_only:
            found = tuple(entity for entity in found if (key, entity.id) in self._primary)
        if language is not None and len(found) > 1:
            found = tuple(entity for entity in found if (key, entity.id) in self._any_language
                          or language in self._name_languages.get((key, entity.id), ())) or found
        return found

    def demonym(self, key: str) -> KnownEntity | None:
        """The country or territory whose adjective or people a key is ("Italian", "Turkish");
        only a location so named means the place, never a person or an organisation."""
        return self._demonyms.get(key)

    def get(self, entity_id: str) -> KnownEntity | None:
        return self._by_id.get(entity_id)

    def __len__(self) -> int:
        return len(self._by_id)


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def _keys_of(spelling: str) -> set[str]:
    """A spelling's keys: German umlauts are also written "ae", "oe", "ue" ("Oesterreich")."""
    return {kb_key(spelling), kb_key(spelling.translate(_UMLAUTS))} - {""}


def _entry(record: dict) -> tuple[KnownEntity, list[str]]:
    names = record.get("names") or {}
    entity = KnownEntity(
        id=record["id"], label=record["label"], kind=record["kind"], name=record["name"],
        names=names, population=int(record.get("population") or 0), country=record.get("country"),
    )
    return entity, record.get("aliases", [])
