"""Text -> normalised search terms: one analysis for indexing, for searching and for alerts.

The Elasticsearch distribution has no language analyzers, so this module is the analyzer: the
index stores these terms under the `whitespace` analyzer, and queries and alert rules go through
`query_terms`, so a query word meets the inflected forms in the articles.
"""
from __future__ import annotations

import importlib
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import NamedTuple

import Stemmer


class Term(NamedTuple):
    term: str
    start: int  # offsets of the surface word in the analysed text, for highlighting
    end: int


# ISO 639-1 -> PyStemmer's Snowball algorithm (every one it ships that has an ISO 639-1 code).
SNOWBALL_ALGORITHMS = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "eo": "esperanto", "es": "spanish", "et": "estonian",
    "eu": "basque", "fa": "persian", "fi": "finnish", "fr": "french", "ga": "irish",
    "hi": "hindi", "hu": "hungarian", "hy": "armenian", "id": "indonesian", "it": "italian",
    "lt": "lithuanian", "nb": "norwegian", "ne": "nepali", "nl": "dutch", "no": "norwegian",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
    "st": "sesotho", "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip

# Accents fold after stemming, so "SANCIÓN"/"sancion" and "Coopération"/"cooperation" meet.
# After, because the stemmers use them: folding first loses conflations (déclaré/déclarer) on
# the French corpus; the price is that some unaccented query words stem apart ("apres" -> apre,
# "après" -> apres). Not folded: languages where the accented letter is another letter of the
# alphabet or the accent tells words apart (Swedish får/far, Turkish ı/i, Czech být/byt,
# Vietnamese tones). German and Dutch fold too: their stemmers already drop umlauts.
ACCENT_SENSITIVE_LANGUAGES = frozenset(
    {"cs", "da", "et", "fi", "hu", "is", "nb", "nn", "no", "pl", "sk", "sv", "tr", "vi"}
)

# Articles and pronouns glued to the next word by an apostrophe (l’invitation, qu’il,
# dell’anno): dropped, as Elasticsearch's elision filter does by default.
ELISIONS = {
    "fr": frozenset("c d j l m n qu s t jusqu lorsqu puisqu quoiqu".split()),
    "it": frozenset(
        "c l all dall dell nell sull coll pell gl agl dagl degl negl sugl un m t s v d".split()
    ),
    "ca": frozenset("d l m n s t".split()),
}
# Turkic languages pair I/ı and İ/i in case, and put the suffixes of proper nouns after an
# apostrophe (Ankara’da): only what precedes it counts.
TURKIC_LANGUAGES = frozenset({"tr", "az"})

APOSTROPHES = "'’‘ʼ"
# Scripts written without spaces between words. Their runs become overlapping character bigrams
# (like Elasticsearch's cjk analyzer): a two-character word is one exact term, and a longer one
# still matches as the set of its bigrams, with no dictionary segmenter.
BIGRAM_SCRIPTS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7ff"  # Hangul
    "\u1780-\u17ff"  # Khmer
    "\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"  # kana, 々〆〇
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"  # Han
)
TOKEN_CACHE_SIZE = 100_000  # surface tokens remembered per language


def _combining_marks() -> str:
    """A regex class body of every combining mark: `\\w` misses them (Hindi vowel signs)."""
    marks = [
        code for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code))[0] == "M"
    ]
    ranges, first, last = [], marks[0], marks[0]
    for code in marks[1:]:
        if code != last + 1:
            ranges.append((first, last))
            first = code
        last = code
    ranges.append((first, last))
    return "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in ranges)


_MARKS = _combining_marks()
_WORD = rf"\w+(?:[{_MARKS}]+\w+)*[{_MARKS}]*"
# A word, or words joined by apostrophes (l’invitation, aujourd'hui, Ankara’da), in one regex.
TOKEN = re.compile(rf"{_WORD}(?:[{APOSTROPHES}]{_WORD})*")
_APOSTROPHE = re.compile(f"[{APOSTROPHES}]")
_BIGRAM_RUN = re.compile(f"[{BIGRAM_SCRIPTS}]+")


def _accent_folding_table() -> dict[int, str | None]:
    """Latin letters -> their unaccented ASCII base; other scripts are left alone (й is not и)."""
    table: dict[int, str | None] = {}
    for code in [*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)]:
        decomposed = unicodedata.normalize("NFKD", chr(code))
        base = "".join(char for char in decomposed if not unicodedata.combining(char))
        if base and base.isascii() and base != chr(code):
            table[code] = base
    # Letters without a decomposition, and marks on letters that have no precomposed form.
    undecomposable = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "ı": "i",
                      "ð": "d", "þ": "th"}  # fmt: skip
    table.update(str.maketrans(undecomposable))
    table.update(dict.fromkeys(range(0x0300, 0x0370)))
    return table


ACCENT_FOLDING = _accent_folding_table()


class _LanguageProfile(NamedTuple):
    stop_words: frozenset[str]
    stemmer: Stemmer.Stemmer | None
    folds_accents: bool
    elisions: frozenset[str]


@lru_cache(maxsize=None)
def _profile(language: str) -> _LanguageProfile:
    folds_accents = language not in ACCENT_SENSITIVE_LANGUAGES
    stop_words: frozenset[str] = frozenset()
    if language.isalpha():
        try:
            # spaCy's per-language stop word lists import without any model.
            module = importlib.import_module(f"spacy.lang.{language}.stop_words")
            stop_words = frozenset(module.STOP_WORDS)
        except ImportError:
            pass
    if folds_accents:
        # An unaccented query word ("deja") is as much a stop word as the accented one.
        stop_words |= {word.translate(ACCENT_FOLDING) for word in stop_words}
    algorithm = SNOWBALL_ALGORITHMS.get(language)
    return _LanguageProfile(
        stop_words=stop_words,
        stemmer=Stemmer.Stemmer(algorithm) if algorithm else None,
        folds_accents=folds_accents,
        elisions=ELISIONS.get(language, frozenset()),
    )


def _word_term(word: str, language: str) -> Term | None:
    """The term for one word without bigram-script letters; offsets relative to the word."""
    profile = _profile(language)
    parts = _APOSTROPHE.split(word)
    start = 0
    while len(parts) > 1 and parts[0].lower() in profile.elisions:
        start += len(parts[0]) + 1
        parts = parts[1:]
    if language in TURKIC_LANGUAGES:
        parts = parts[:1]
    surface = unicodedata.normalize("NFC", "'".join(parts))
    if language in TURKIC_LANGUAGES:
        surface = surface.replace("I", "ı").replace("İ", "i")
    lowered = surface.lower()
    if lowered in profile.stop_words or not lowered.strip("_"):
        return None
    term = profile.stemmer.stemWord(lowered) if profile.stemmer else lowered
    if profile.folds_accents:
        term = term.translate(ACCENT_FOLDING)
    return Term(term, start, len(word)) if term else None


def _bigrams(run: str, offset: int) -> list[Term]:
    if len(run) == 1:
        return [Term(run, offset, offset + 1)]
    return [Term(run[i : i + 2], offset + i, offset + i + 2) for i in range(len(run) - 1)]


def _pieces(token: str) -> Iterator[tuple[str, int, bool]]:
    """(text, offset, is_bigram_run) where a token switches script ("iPhone手机")."""
    position = 0
    for run in _BIGRAM_RUN.finditer(token):
        for word in TOKEN.finditer(token, position, run.start()):
            yield word.group(), word.start(), False
        yield run.group(), run.start(), True
        position = run.end()
    for word in TOKEN.finditer(token, position):
        yield word.group(), word.start(), False


class _TokenAnalysis(NamedTuple):
    terms: tuple[str, ...]
    located: tuple[Term, ...]  # offsets relative to the token


def _analyse_token(token: str, language: str) -> _TokenAnalysis:
    located: list[Term] = []
    for piece, offset, is_bigram_run in _pieces(token):
        if is_bigram_run:
            located += _bigrams(piece, offset)
        elif word := _word_term(piece, language):
            located.append(Term(word.term, offset + word.start, offset + word.end))
    return _TokenAnalysis(tuple(term.term for term in located), tuple(located))


_token_caches: dict[str, dict[str, _TokenAnalysis]] = {}


def _token_cache(language: str) -> dict[str, _TokenAnalysis]:
    """The per-language memo of token -> terms: news vocabulary repeats, so most tokens are hits."""
    cache = _token_caches.setdefault(language, {})
    if len(cache) >= TOKEN_CACHE_SIZE:
        cache.clear()
    return cache


def analyze(text: str, language: str) -> list[str]:
    """Search terms of `text` read as `language` (ISO 639-1; any other code: no stemmer)."""
    cache = _token_cache(language)
    terms: list[str] = []
    for token in TOKEN.findall(text):
        analysis = cache.get(token)
        if analysis is None:
            analysis = cache[token] = _analyse_token(token, language)
        terms += analysis.terms
    return terms


def analyze_with_offsets(text: str, language: str) -> list[Term]:
    """`analyze`'s terms, each with the offsets of the surface word it comes from."""
    cache = _token_cache(language)
    terms: list[Term] = []
    for match in TOKEN.finditer(text):
        token = match.group()
        analysis = cache.get(token)
        if analysis is None:
            analysis = cache[token] = _analyse_token(token, language)
        offset = match.start()
        for term, start, end in analysis.located:
            terms.append(Term(term, offset + start, offset + end))
    return terms


def surface_forms(texts: Iterable[str], language: str, terms: Iterable[str]) -> dict[str, str]:
    """For each analysed term, the word the texts write most often for it ("sanktion" ->
    "Sanktionen"); ties go to the form seen first. Terms the texts never produce are left out."""
    wanted = set(terms)
    seen: dict[str, Counter[str]] = {}
    for text in texts:
        for term, start, end in analyze_with_offsets(text, language):
            if term in wanted:
                seen.setdefault(term, Counter())[text[start:end]] += 1
    return {term: forms.most_common(1)[0][0] for term, forms in seen.items()}


class QueryWord(NamedTuple):
    """A query word: the terms it may have been indexed as, and whether some language drops it
    as a stop word (then articles in that language cannot contain it, so it cannot be required)."""

    alternatives: frozenset[str]
    stop_word_somewhere: bool


def query_words(query: str, languages: Iterable[str]) -> list[QueryWord]:
    """Per query word, the terms it may have been indexed as in any of `languages`.

    A stop word in one language still counts through the others; a word that is a stop word in
    all of them is dropped. Each bigram of a spaceless script is a query word of its own.
    """
    candidates = tuple(dict.fromkeys(languages))
    words: list[QueryWord] = []
    for match in TOKEN.finditer(query):
        for piece, _, is_bigram_run in _pieces(match.group()):
            if is_bigram_run:
                words += [QueryWord(frozenset({bigram.term}), False) for bigram in _bigrams(piece, 0)]
                continue
            analysed = [_word_term(piece, language) for language in candidates]
            if alternatives := frozenset(word.term for word in analysed if word):
                words.append(QueryWord(alternatives, None in analysed))
    return words


def query_terms(query: str, languages: Iterable[str]) -> list[frozenset[str]]:
    """The alternatives of each query word (see `query_words`)."""
    return [word.alternatives for word in query_words(query, languages)]
