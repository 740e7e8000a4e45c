"""Language of each paragraph of an article, with the article itself deciding the short ones."""
from __future__ import annotations

import copy
from collections import Counter
from functools import lru_cache
from typing import NamedTuple

from py3langid.langid import MODEL_FILE, LanguageIdentifier
from pydantic import BaseModel

from processors.config import DEFAULT_LANGUAGES
from schemas.articles import LanguageShare, Paragraph

UNDETERMINED = "und"

# py3langid's probabilities are calibrated by text length. On the gold sentences and the news
# corpora, every text of at least 20 letters given at least 0.9 was right; below that, headlines
# go wrong ("Deutsche Telekom sees mobile gain" -> de). Letters, not words, so that Chinese,
# Japanese and Thai (no spaces) are measured like the rest.
RELIABLE_MIN_LETTERS = 20
RELIABLE_MIN_CONFIDENCE = 0.9
SHARE_DIGITS = 3
# A reliable title's language is primary if it holds at least this share of the body (see _primary).
TITLE_LANGUAGE_MIN_SHARE = 1 / 3


class LanguageGuess(NamedTuple):
    code: str  # ISO 639-1, or "und"
    confidence: float  # probability among the configured languages, 0..1


class ArticleLanguages(BaseModel):
    title_language: str
    paragraphs: list[Paragraph]  # the same paragraphs, `.language` set
    language: str  # primary (see _primary)
    languages: list[LanguageShare]  # by letters of the body, largest first, summing to 1


class _Reading(NamedTuple):
    """What the detector says about one text, before the article's context is applied."""

    guess: LanguageGuess
    scores: dict[str, float]
    letters: int

    @property
    def reliable(self) -> bool:
        return (
            self.letters >= RELIABLE_MIN_LETTERS
            and self.guess.confidence >= RELIABLE_MIN_CONFIDENCE
        )


@lru_cache(maxsize=1)
def _full_identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=None)
def _identifier(languages: tuple[str, ...]) -> LanguageIdentifier:
    # A shallow copy shares the loaded model: set_languages only rebinds the copy's own views.
    identifier = copy.copy(_full_identifier())
    identifier.set_languages(languages)
    return identifier


def _language_tuple(languages: tuple[str, ...] | None) -> tuple[str, ...]:
    resolved = tuple(sorted(set(languages or DEFAULT_LANGUAGES)))
    if not resolved:
        raise ValueError("no languages to choose from")
    return resolved


def _read(text: str, languages: tuple[str, ...]) -> _Reading:
    letters = sum(map(str.isalpha, text))
    if not letters:
        return _Reading(LanguageGuess(UNDETERMINED, 0.0), {}, 0)
    ranked = _identifier(languages).rank(text)
    (best, confidence), (_, lowest) = ranked[0], ranked[-1]
    # Equal scores everywhere: none of the model's n-grams occur in the text ("20min.ch").
    if len(ranked) > 1 and confidence - lowest < 1e-6:
        guess = LanguageGuess(UNDETERMINED, 0.0)
    else:
        guess = LanguageGuess(best, confidence)
    return _Reading(guess, dict(ranked), letters)


def detect_language(text: str, languages: tuple[str, ...] | None = None) -> LanguageGuess:
    """The most likely of `languages` (default: the configured set); "und" without letters."""
    return _read(text, _language_tuple(languages)).guess


def _decide(reading: _Reading, candidates: list[str]) -> str:
    # A reliable text keeps its own language. A short or uncertain one (a subheading, a one-line
    # quote) takes, among the languages the article's reliable paragraphs are written in, the one
    # the detector scores highest for it; on equal scores, the article's main language.
    if reading.reliable or not reading.letters or not candidates:
        return reading.guess.code
    return max(candidates, key=reading.scores.__getitem__)


def _shares(letters_by_language: Counter[str]) -> list[LanguageShare]:
    total = sum(letters_by_language.values())
    if not total:
        return [LanguageShare(code=UNDETERMINED, share=1.0)]
    ranked = sorted(letters_by_language.items(), key=lambda item: (-item[1], item[0]))
    rounded = [(code, round(letters / total, SHARE_DIGITS)) for code, letters in ranked]
    (largest_code, _), *rest = [(code, share) for code, share in rounded if share > 0]
    # The largest share takes the rounding leftovers, so the shares sum to 1.
    largest_share = round(1.0 - sum(share for _, share in rest), SHARE_DIGITS)
    return [
        LanguageShare(code=code, share=share)
        for code, share in [(largest_code, largest_share), *rest]
    ]


def _primary(title: _Reading, shares: list[LanguageShare]) -> str:
    # The headline is in the language the article is published in, while the body may carry long
    # quotes or a translation (the seed's doomsday-clock article: French, with an English second
    # half longer than the French first). So a reliable title's language is primary when it holds
    # a good part of the body; otherwise the body's largest share is.
    share_by_code = {share.code: share.share for share in shares}
    if title.reliable and share_by_code.get(title.guess.code, 0.0) >= TITLE_LANGUAGE_MIN_SHARE:
        return title.guess.code
    return shares[0].code


def _usable_hint(hint: object, languages: tuple[str, ...]) -> str | None:
    """The declared language's primary subtag ("fr-CH" -> "fr") if it is one of `languages`."""
    if not isinstance(hint, str):
        return None
    code = hint.strip().replace("_", "-").split("-")[0].lower()
    return code if code in languages else None


def detect_article_languages(
    title: str,
    paragraphs: list[Paragraph],
    languages: tuple[str, ...] | None = None,
    *,
    hint: str | None = None,
) -> ArticleLanguages:
    """Each paragraph's language, the title's, the primary one and the body's shares.

    `hint` is the language the source declares (a feed's <language>, a page's <html lang>). It
    decides only what the text cannot: when neither a paragraph nor the title is reliable on its own
    and the whole article read as one text is not reliable either, the short texts take the hint
    instead of the detector's low-confidence guess (or "und"). A reliable text, or an article that
    has one, keeps its detected languages; text without letters stays "und"; a hint outside
    `languages` is ignored.
    """
    resolved = _language_tuple(languages)
    hint = _usable_hint(hint, resolved)
    title_reading = _read(title, resolved)
    readings = [_read(paragraph.text, resolved) for paragraph in paragraphs]
    evidence: Counter[str] = Counter()
    for reading in readings:
        if reading.reliable:
            evidence[reading.guess.code] += reading.letters
    candidates = [code for code, _ in evidence.most_common()]
    if not candidates:
        # Nothing long enough on its own: the whole article read as one text decides.
        whole = _read("\n".join([title, *(paragraph.text for paragraph in paragraphs)]), resolved)
        if hint is not None and not whole.reliable and not title_reading.reliable:
            # Still undecided: the language the source declares decides.
            candidates = [hint]
        else:
            candidates = [whole.guess.code] if whole.guess.code != UNDETERMINED else []

    decided = [
        paragraph.model_copy(update={"language": _decide(reading, candidates)})
        for paragraph, reading in zip(paragraphs, readings)
    ]
    letters_by_language: Counter[str] = Counter()
    for paragraph, reading in zip(decided, readings):
        if paragraph.language != UNDETERMINED:
            letters_by_language[paragraph.language] += reading.letters
    shares = _shares(letters_by_language)
    return ArticleLanguages(
        title_language=_decide(title_reading, candidates),
        paragraphs=decided,
        language=_primary(title_reading, shares),
        languages=shares,
    )
