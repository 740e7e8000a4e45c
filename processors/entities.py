"""Named entities: spaCy NER per language, labels mapped onto four, junk spans trimmed or dropped.

Every number quoted below was measured with `newsstream eval-ner` (CoNLL-2003 English test,
Europeana French newspapers), micro F1 over person/location/organization.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import spacy
from spacy.language import Language
from spacy.util import get_lang_class

from newsstream.settings import get_settings
from schemas.articles import Entity, EntityLabel, Mention

# In the sm models `ner` embeds its own tok2vec (not a listener), so none of these feed it.
# `senter` (own 16-wide tok2vec, disabled by default) is kept and enabled instead of the parser:
# without sentence boundaries French NER runs entities across sentences ("Nantes. Rioux" -> one LOC).
_NOT_FOR_NER = ("tok2vec", "tagger", "morphologizer", "parser", "attribute_ruler", "lemmatizer")

# OntoNotes (English) and WikiNER (French) labels onto ours; numbers, dates and amounts are dropped.
LABEL_MAP: dict[str, EntityLabel] = {
    "PERSON": "person",
    "PER": "person",
    "GPE": "location",
    "LOC": "location",
    "FAC": "location",
    "ORG": "organization",
    "NORP": "misc",
    "EVENT": "misc",
    "WORK_OF_ART": "misc",
    "LAW": "misc",
    "PRODUCT": "misc",
    "LANGUAGE": "misc",
    "MISC": "misc",
}

UNDETERMINED = "und"


@dataclass(frozen=True)
class EntityInput:
    """One text unit to tag; `text` is normalised for NLP and as long as the display text."""

    key: Hashable
    field: Literal["title", "body"]
    offset: int
    text: str
    language: str


@dataclass(frozen=True)
class TaggedEntities:
    entities: list[Entity] = field(default_factory=list)
    # Languages of this key's units that no model covers: nothing was guessed for them.
    ner_unavailable: list[str] = field(default_factory=list)


@lru_cache(maxsize=None)
def load_ner_pipeline(language: str) -> Language | None:
    """The language's NER pipeline, loaded once per process; None when no model is configured."""
    package = get_settings().spacy_model_map.get(language)
    if package is None:
        return None
    nlp = spacy.load(package, exclude=list(_NOT_FOR_NER))
    if "senter" in nlp.disabled:
        nlp.enable_pipe("senter")
    return nlp


# --- Junk rules: pure functions over (text, start, end) -------------------------------------

# Edge characters that are never part of a name (quotes, dashes, separators). "." stays: it ends
# abbreviations ("U.S.", "Inc.") and the tokenizer already splits a sentence-final one off.
_EDGE_PUNCTUATION = frozenset("\"'`«»“”‘’„‹›-–—,;:!?/\\|*•·[]{}<>()")
_POSSESSIVE = re.compile(r"\s*'s$", re.IGNORECASE)
# French elided articles/prepositions glued to a name: "l'ONU" -> "ONU", "d'Ukraine" -> "Ukraine".
_ELISIONS = {"fr": re.compile(r"(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu)'(?=\w)", re.IGNORECASE)}
_MAX_WORDS = 8

_CALENDAR_WORDS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday "
    "january february march april may june july august september october november december "
    "lundi mardi mercredi jeudi vendredi samedi dimanche "
    "janvier février fevrier mars avril mai juin juillet août aout septembre octobre novembre décembre "
    "decembre".split()
)


@lru_cache(maxsize=None)
def stop_words(language: str) -> frozenset[str]:
    try:
        return frozenset(get_lang_class(language).Defaults.stop_words)
    except ImportError:
        return frozenset()


def _is_edge(char: str, span: str) -> bool:
    if char == "(":  # unless it opens a pair inside the span: "Bulletin (BAS)"
        return ")" not in span or span.endswith(")")
    if char == ")":
        return "(" not in span
    return char.isspace() or char in _EDGE_PUNCTUATION


def trim_span(text: str, start: int, end: int, language: str) -> tuple[int, int]:
    """Narrows [start, end) to the name: edge punctuation, a French elision, an English possessive."""
    elision = _ELISIONS.get(language)
    while True:
        before = (start, end)
        while start < end and _is_edge(text[start], text[start:end]):
            start += 1
        while start < end and _is_edge(text[end - 1], text[start:end]):
            end -= 1
        if language == "en" and (possessive := _POSSESSIVE.search(text, start, end)):
            end = possessive.start()
        if elision and (match := elision.match(text, start, end)):
            start = match.end()
        if (start, end) == before:
            return start, end


def is_junk(span: str, language: str) -> bool:
    """A span that is not a name whatever the model says."""
    words = span.split()
    if not words or not any(char.isalpha() for char in span):
        return True
    # Cased script but no capital: a common word ("président"), not a name.
    if span == span.lower() and span != span.upper():
        return True
    if len(words) == 1 and (span.lower() in _CALENDAR_WORDS or span.lower() in stop_words(language)):
        return True
    return len(words) > _MAX_WORDS


def clean_span(text: str, start: int, end: int, language: str) -> tuple[int, int] | None:
    """The trimmed span of a model entity, or None when what is left is junk."""
    start, end = trim_span(text, start, end, language)
    return None if is_junk(text[start:end], language) else (start, end)


# --- Tagging ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    key: Hashable
    text: str
    label: EntityLabel
    mention: Mention


def _model_spans(nlp: Language, texts: list[str], batch_size: int) -> list[list[tuple[int, int, str]]]:
    # The memory zone frees the strings a long-running worker would otherwise accumulate.
    with nlp.memory_zone():
        return [
            [(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents]
            for doc in nlp.pipe(texts, batch_size=batch_size)
        ]


def _found_in(unit: EntityInput, spans: list[tuple[int, int, str]]) -> Iterable[_Found]:
    for start, end, model_label in spans:
        label = LABEL_MAP.get(model_label)
        cleaned = clean_span(unit.text, start, end, unit.language) if label else None
        if label and cleaned:
            start, end = cleaned
            mention = Mention(field=unit.field, start=unit.offset + start, end=unit.offset + end)
            yield _Found(unit.key, unit.text[start:end], label, mention)


def _mention_order(mention: Mention) -> tuple[int, int]:
    return (0 if mention.field == "title" else 1, mention.start)


def merge_entities(found: Iterable[_Found]) -> list[Entity]:
    """One entity per (normalised text, label); most frequent spelling; most mentioned first."""
    groups: dict[tuple[str, EntityLabel], list[_Found]] = defaultdict(list)
    for item in found:
        groups[(" ".join(item.text.split()).casefold(), item.label)].append(item)
    entities = []
    for (_, label), items in groups.items():
        items.sort(key=lambda item: _mention_order(item.mention))
        spellings = [item.text for item in items]
        entities.append(Entity(
            text=max(spellings, key=spellings.count),  # ties: the first mention's spelling
            label=label,
            count=len(items),
            mentions=[item.mention for item in items],
        ))
    entities.sort(key=lambda entity: (-entity.count, _mention_order(entity.mentions[0])))
    return entities


def tag_entities(units: list[EntityInput], batch_size: int = 64) -> dict[Hashable, TaggedEntities]:
    """Entities per key; each unit is tagged only by its own language's model."""
    by_language: dict[str, list[EntityInput]] = defaultdict(list)
    for unit in units:
        if unit.language != UNDETERMINED and unit.text.strip():
            by_language[unit.language].append(unit)
    found: dict[Hashable, list[_Found]] = {unit.key: [] for unit in units}
    unavailable: dict[Hashable, set[str]] = defaultdict(set)
    for language, language_units in by_language.items():
        nlp = load_ner_pipeline(language)
        if nlp is None:
            for unit in language_units:
                unavailable[unit.key].add(language)
            continue
        spans = _model_spans(nlp, [unit.text for unit in language_units], batch_size)
        for unit, unit_spans in zip(language_units, spans):
            found[unit.key].extend(_found_in(unit, unit_spans))
    return {
        key: TaggedEntities(entities=merge_entities(items), ner_unavailable=sorted(unavailable[key]))
        for key, items in found.items()
    }
