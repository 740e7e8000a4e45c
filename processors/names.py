"""Name keys: one key for the spellings of a name across languages and transliterations.

`Sergueï Lavrov`, `Sergei Lavrov`, `Sergej Lawrow` and `Serguéi Lavrov` share the key
`sergei lavrov`; `Vladimir Poutine` and `Wladimir Putin` share `vladimir putin`. The rules follow
JRC-Names' normalisation (Steinberger et al., 2011): transliterate to ASCII, then fold the letter
groups that European spellings of one sound differ in. Keys are for matching only, never shown.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii

_NON_WORD = re.compile(r"[^a-z0-9]+")
# Applied in order, to each word. Each pair folds spellings of one sound used by different
# languages' transliterations; a rule that merged distinct common names was left out.
_SPELLING_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement) for pattern, replacement in (
        (r"gu(?=[eiy])", "g"),       # French/Spanish "Sergueï", "Serguéi" -> "Sergei"
        (r"ou", "u"),                # French "Poutine", "Oussama"
        (r"(?<=[^aeiou])(?:ue|oe|ae)", lambda m: m.group(0)[0]),  # German "Mueller" = "Müller"
        (r"ph", "f"),
        (r"ck", "k"),
        (r"q", "k"),                 # "Iraq" / "Irak", "Qatar" / "Katar"
        (r"c(?![eihy])", "k"),       # "Nicolas" / "Nikolas"; "ch", "ce", "ci" kept
        (r"w", "v"),                 # German "Lawrow", "Wladimir"
        (r"z", "s"),                 # "Zelensky" / "Selenskyj"
        (r"[jy]", "i"),              # "Sergej", "Sergey", "Zelenskyy"
        (r"(.)\1+", r"\1"),          # doubled letters: "Zelenskii", "Kaddafi" / "Kadafi"
        (r"(?<=[^aeiou])e$", ""),    # a silent final e: "Poutine", "Rome" / "Rom"
    )
)


# Spellings one language gives the sounds of names from other scripts: Dutch writes the "u" of
# Russian names "oe" ("Poetin", "Sjojgoe"). Applied first, to names in an article of that
# language; the price: a Dutch surname with "oe" ("Hoekstra") keys differently in Dutch articles
# than in others, a missed link, never a wrong merge.
_LANGUAGE_RULES: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    "nl": ((re.compile(r"oe"), "u"),),
}


def fold(text: str) -> str:
    """Lowercase ASCII words separated by single spaces: accents, scripts, punctuation and hyphens
    folded away ("Kim Jong-un" -> "kim jong un", "Москва" -> "moskva")."""
    ascii_text = anyascii(unicodedata.normalize("NFC", text)).lower()
    return " ".join(_NON_WORD.sub(" ", ascii_text).split())


@lru_cache(maxsize=1 << 18)  # words recur across names: the knowledge base loads ~2x faster
def _word_key(word: str, language: str) -> str:
    if word.isdigit():
        return word
    for pattern, replacement in (*_LANGUAGE_RULES.get(language, ()), *_SPELLING_RULES):
        word = pattern.sub(replacement, word)
    return word


@lru_cache(maxsize=65536)
def name_key(text: str, language: str = "") -> str:
    """The matching key of a name: `fold`, then the spelling rules word by word (with those of
    the language the name is written in, when given)."""
    return " ".join(key for key in (_word_key(word, language) for word in fold(text).split()) if key)


def name_keys(text: str, language: str) -> set[str]:
    """Its key with and without the language's own rules: how a name written in an article is
    looked up among names written anywhere."""
    return {name_key(text), name_key(text, language)} - {""}


def key_slug(key: str) -> str:
    """A key as it appears in ids: words joined by hyphens ("vladimir putin" -> "vladimir-putin")."""
    return key.replace(" ", "-")
