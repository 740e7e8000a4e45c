"""Named entities: spaCy NER per language, labels mapped onto four, junk spans trimmed or dropped.

The junk rules follow what `newsstream eval-ner` measured (exact-span micro F1 over person,
location, organization): CoNLL-2003 English test 0.605 -> 0.639, Europeana French 0.415 -> 0.499.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import spacy
from spacy.language import Language
from spacy.util import get_lang_class

from schemas.articles import Entity, EntityLabel, Mention

# In the sm models `ner` embeds its own tok2vec (not a listener), so none of these feed it: with or
# without them it scores the same on the gold sets (within 0.001 F1), twice as fast. `senter` (own small tok2vec,
# disabled by default) is enabled in place of the parser's sentence boundaries: without any, French
# entities run on across dashes and sentences ("Zine El Abidine Ben Ali - le pays").
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


def load_ner_pipeline(language: str, models: Mapping[str, str]) -> Language | None:
    """The language's NER pipeline from the model map, loaded once per process (the first time the
    process sees the language); None when no model is configured for it."""
    package = models.get(language)
    return None if package is None else _load_package(package)


@lru_cache(maxsize=None)
def _load_package(package: str) -> Language:
    nlp = spacy.load(package, exclude=list(_NOT_FOR_NER))
    if "senter" in nlp.disabled:
        nlp.enable_pipe("senter")
    return nlp


# --- Junk rules: pure functions over (text, start, end) -------------------------------------

# Edge characters that are never part of a name (quotes, dashes, separators). "." stays: it ends
# abbreviations ("U.S.", "Inc.") and the tokenizer already splits a sentence-final one off.
_EDGE_PUNCTUATION = frozenset("\"'`«»“”‘’„‹›-–—,;:!?/\\|*•·[]{}<>")
_POSSESSIVE = re.compile(r"\s*'s$", re.IGNORECASE)
# French elided articles/prepositions glued to a name: "l'ONU" -> "ONU", "d'Ukraine" -> "Ukraine".
_ELISIONS = {"fr": re.compile(r"(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu)'\s*(?=\w)", re.IGNORECASE)}
_FIRST_WORD = re.compile(r"(\S+)\s+(?=\S)")
_LAST_WORD = re.compile(r"(?<=\S)\s+(\S+)$")
# Both gold sets leave titles out of person names ("M. Hervé" -> "Hervé", "Mr Clinton" -> "Clinton").
# Per language: an English "M." is an initial ("M. Waugh").
_HONORIFICS = {
    "en": frozenset("mr mrs ms miss dr prof".split()),
    "fr": frozenset(
        "m mm mme mmes mlle mlles mgr me dr pr monsieur messieurs madame mesdames mademoiselle".split()
    ),
}
# Lowercase words a surname may start with ("de Gaulle", "van Gogh"): kept on persons.
_NAME_PARTICLES = frozenset("de du des van von der den da di del della dos ter ten bin al el".split())
# French writes the kind of place in lowercase, yet it is part of the name ("rue de Rivoli", "mer Noire").
_PLACE_KINDS = {
    "fr": frozenset(
        "rue avenue boulevard place quai pont gare impasse allée chaussée square cours faubourg porte "
        "mer océan lac mont golfe cap île détroit canal".split()
    ),
}
# A capitalised "The" is left out too ("The United Nations" -> "United Nations", as in CoNLL);
# French is inconsistent ("Le Havre" in, "Le Petit Parisien" mostly out) and keeps its articles.
_LEADING_ARTICLES = {"en": frozenset({"The", "THE"})}
# Longer spans are run-ons across lists or headlines; ten words let long institution names through
# ("Institut international de recherche sur la paix de Stockholm").
_MAX_WORDS = 10

# Measured on the dev splits for the trained languages (measure eval-ner, micro F1): weekdays and
# months in German, Spanish and Dutch 0.7541 -> 0.7542 (es), unchanged (de, nl). Tried and left out:
# honorifics (es 0.7541 -> 0.7539, nl 0.7091 -> 0.7088, de unchanged) and leading articles
# (es -> 0.7514, nl -> 0.6613: CoNLL-2002 keeps "El", "De" inside names).
_WEEKDAYS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday lundi mardi mercredi jeudi vendredi samedi "
    "dimanche montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag lunes martes miércoles "
    "jueves viernes sábado domingo maandag dinsdag woensdag donderdag vrijdag zaterdag zondag".split()
)
_MONTHS = frozenset(
    "january february march april may june july august september october november december janvier "
    "février fevrier mars avril mai juin juillet août aout septembre octobre novembre décembre decembre "
    "januar februar märz juni juli oktober dezember enero febrero marzo abril mayo junio julio agosto "
    "septiembre setiembre octubre noviembre diciembre januari februari maart mei augustus".split()
)


@lru_cache(maxsize=None)
def stop_words(language: str) -> frozenset[str]:
    try:
        return frozenset(get_lang_class(language).Defaults.stop_words)
    except ImportError:
        return frozenset()


def _is_lowercase(word: str) -> bool:
    """Cased letters, none of them capital (False for digits and scripts without case)."""
    return word == word.lower() and word != word.upper()


def _is_honorific(word: str, language: str) -> bool:
    return word.rstrip(".").lower() in _HONORIFICS.get(language, ())


def _lowercase_name_words(language: str, label: EntityLabel) -> frozenset[str]:
    if label == "person":
        return _NAME_PARTICLES
    return _PLACE_KINDS.get(language, frozenset()) if label == "location" else frozenset()


def _is_edge(char: str, span: str) -> bool:
    if char == "(":  # unless it opens a pair inside the span: "Bulletin (BAS)"
        return ")" not in span or span.endswith(")")
    if char == ")":
        return "(" not in span
    return char.isspace() or char in _EDGE_PUNCTUATION


def _trim_step(span: str, language: str, label: EntityLabel) -> tuple[int, int]:
    """The first rule's cut of `span` as (start, end) within it; (0, len(span)) when none applies."""
    length = len(span)
    if _is_edge(span[0], span):
        return 1, length
    if _is_edge(span[-1], span):
        return 0, length - 1
    # A spaced dash ends a name: what follows is an aside or the rest of a headline ("Najla Bouden -
    # la Première ministre"), never the same name (hyphenated names take no spaces).
    if (dash := span.find(" - ")) > 0:
        return 0, dash
    if language == "en" and (possessive := _POSSESSIVE.search(span)):
        return 0, possessive.start()
    if (elision := _ELISIONS.get(language)) and (match := elision.match(span)):
        return match.end(), length
    if first := _FIRST_WORD.match(span):
        word = first.group(1)
        # Determiners and prepositions ("la France", "the United Nations"), job titles ("président
        # Wilson") are outside the name; a person's particle ("de Gaulle") or a kind of place is not.
        if _is_lowercase(word) and word not in _lowercase_name_words(language, label):
            return first.end(), length
        if word in _LEADING_ARTICLES.get(language, ()):
            return first.end(), length
        if label == "person" and _is_honorific(word, language):
            return first.end(), length
    if last := _LAST_WORD.search(span):
        word = last.group(1)
        # A dangling preposition or elided article ("Banque centrale de", "Ligue des champions d'").
        if _is_lowercase(word) and (len(word) == 1 or word in stop_words(language)):
            return 0, last.start()
        # A trailing bare number is a score or a date next to the name ("Guinée 3-0"); misc and
        # organisations are named with numbers ("Leopard 2", "Channel 4").
        if label in ("person", "location") and not any(char.isalpha() for char in word):
            return 0, last.start()
    return 0, length


def _hyphen_piece_before(text: str, start: int) -> int:
    """Where the word joined by a hyphen right before `start` begins; `start` when there is none."""
    if text[start - 1:start] != "-" or not text[start:start + 1].isalnum():
        return start
    piece = start - 1
    while piece > 0 and text[piece - 1].isalnum():
        piece -= 1
    return piece if piece < start - 1 else start


def _hyphen_piece_after(text: str, end: int) -> int:
    """Where the word joined by a hyphen right after `end` ends; `end` when there is none."""
    if text[end:end + 1] != "-" or not text[end - 1:end].isalnum():
        return end
    piece = end + 1
    while piece < len(text) and text[piece].isalnum():
        piece += 1
    return piece if piece > end + 1 else end


def widen_to_words(text: str, start: int, end: int, label: EntityLabel) -> tuple[int, int]:
    """Grows [start, end) to whole words. The tokenizer splits at hyphens, names do not: a person's
    name takes its hyphenated pieces ("Kim Jong-un"), other names only capitalised ones
    ("Dallas-Fort Worth", not "Paris-based")."""
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    while (piece := _hyphen_piece_before(text, start)) < start and (label == "person" or text[piece].isupper()):
        start = piece
    while (piece := _hyphen_piece_after(text, end)) > end and (label == "person" or text[end + 1].isupper()):
        end = piece
    return start, end


def trim_span(text: str, start: int, end: int, language: str, label: EntityLabel) -> tuple[int, int]:
    """Narrows [start, end) to the name itself."""
    while start < end:
        cut_start, cut_end = _trim_step(text[start:end], language, label)
        if (cut_start, cut_end) == (0, end - start):
            break
        start, end = start + cut_start, start + cut_end
    return start, end


def is_junk(span: str, language: str, label: EntityLabel) -> bool:
    """A span that is not a name whatever the model says."""
    words = span.split()
    if not any(char.isalpha() for char in span) or len(span.rstrip(".")) == 1:  # "2023", "M.", "S"
        return True
    if _is_lowercase(span):  # a common word ("président"), not a name
        return True
    if all(_is_honorific(word, language) for word in words):
        return True
    # A capitalised function word ("Selon", "Il"), often sentence-initial; not an acronym ("US"),
    # and a person may bear one as a name ("Theresa May").
    if len(words) == 1 and label != "person" and not span.isupper() and span.lower() in stop_words(language):
        return True
    # Weekdays and months are never places or organisations; a person may be called May or Avril.
    if len(words) == 1 and (span.lower() in _WEEKDAYS or (label != "person" and span.lower() in _MONTHS)):
        return True
    return len(words) > _MAX_WORDS


def clean_span(text: str, start: int, end: int, language: str, label: EntityLabel) -> tuple[int, int] | None:
    """The trimmed span of a model entity, or None when what is left is junk."""
    start, end = trim_span(text, *widen_to_words(text, start, end, label), language, label)
    return None if is_junk(text[start:end], language, label) else (start, end)


# --- Tagging ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
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
        cleaned = clean_span(unit.text, start, end, unit.language, label) if label else None
        if label and cleaned:
            start, end = cleaned
            mention = Mention(field=unit.field, start=unit.offset + start, end=unit.offset + end)
            yield _Found(unit.text[start:end], label, mention)


def _mention_order(mention: Mention) -> tuple[int, int]:
    return (0 if mention.field == "title" else 1, mention.start)


GroupKey = tuple[str, EntityLabel]


def _initials(words: list[str]) -> str:
    return "".join(word[0] for word in words if word[:1].isupper()).upper()


def _full_form(key: GroupKey, spelling: str, groups: dict[GroupKey, list[_Found]]) -> GroupKey | None:
    """The one longer entity of the article a one-word entity is a short form of: a surname after
    the person's full name ("Poutine" after "Vladimir Poutine", whatever label the model gave the
    surname), or an acronym after its expansion ("BCE" after "Banque centrale européenne"). None
    when there is no such entity or more than one (two persons of one surname)."""
    text, label = key
    if " " in text:
        return None
    candidates = {other for other in groups if " " in other[0] and other[1] == "person"
                  and other[0].rsplit(" ", 1)[1] == text and label != "location"}
    if not candidates and spelling.isupper() and 2 <= len(spelling) <= 6:
        candidates = {other for other in groups if other[1] != "person" and " " in other[0]
                      and _initials(groups[other][0].text.split()) == spelling}
    return candidates.pop() if len(candidates) == 1 else None


def _join_short_forms(groups: dict[GroupKey, list[_Found]]) -> dict[GroupKey, list[_Found]]:
    joined: dict[GroupKey, list[_Found]] = defaultdict(list)
    for key, items in groups.items():
        full = _full_form(key, items[0].text, groups)
        joined[full or key] += [_Found(item.text, full[1], item.mention) for item in items] if full else items
    return joined


def merge_entities(found: Iterable[_Found]) -> list[Entity]:
    """One entity per (normalised text, label), short forms joined to their full form; the most
    frequent full spelling names it; most mentioned first."""
    groups: dict[GroupKey, list[_Found]] = defaultdict(list)
    for item in found:
        groups[(" ".join(item.text.split()).casefold(), item.label)].append(item)
    groups = _join_short_forms(groups)
    entities = []
    for (_, label), items in groups.items():
        items.sort(key=lambda item: _mention_order(item.mention))
        spellings = [item.text for item in items]
        longest = max(len(spelling.split()) for spelling in spellings)
        full = [spelling for spelling in spellings if len(spelling.split()) == longest]
        text = max(full, key=full.count)  # ties: the first mention's spelling
        entities.append(Entity(
            text=text,
            label=label,
            count=len(items),
            mentions=[item.mention for item in items],
            aliases=sorted(set(spellings) - {text}),
        ))
    entities.sort(key=lambda entity: (-entity.count, _mention_order(entity.mentions[0])))
    return entities


def tag_entities(units: list[EntityInput], models: Mapping[str, str], batch_size: int = 64,
                 ) -> dict[Hashable, TaggedEntities]:
    """Entities per key; each unit is tagged only by its own language's model (`models`: language
    -> spaCy package)."""
    by_language: dict[str, list[EntityInput]] = defaultdict(list)
    for unit in units:
        if unit.language != UNDETERMINED and unit.text.strip():
            by_language[unit.language].append(unit)
    found: dict[Hashable, list[_Found]] = {unit.key: [] for unit in units}
    unavailable: dict[Hashable, set[str]] = defaultdict(set)
    for language, language_units in by_language.items():
        nlp = load_ner_pipeline(language, models)
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
