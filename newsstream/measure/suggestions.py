"""`newsstream measure suggestions FILES`: what `alerts add --suggest` proposes for common news
words, on articles whose stories the story stage forms itself.

The files' articles are enriched in-process, grouped into stories by the stage (not by any gold
label), indexed into a scratch index with the product's mapping, and each word is given to the
product's `suggest_words` as a rule's query would be. The scratch index is removed afterwards.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from elasticsearch.helpers import bulk

from clients.elasticsearch import ensure_index
from newsstream.measure.stories import enrich_rows, run_stage
from newsstream.suggest import Suggestions, suggest_words
from processors.config import PipelineConfig, StoryConfig
from processors.index import bulk_actions
from processors.stories import signature
from schemas.indices import INDICES

# Ten words news alerts are often set on, one per concept the shipped story samples cover.
DEFAULT_WORDS = ("earthquake", "injured", "strike", "pilots", "flights", "rate", "takeover", "storm", "floods",
                 "satellite")
ARTICLES_SPEC = next(spec for spec in INDICES if spec.role == "articles")


def index_stories(es: Any, index: str, rows: Sequence[Mapping[str, Any]], pipeline: PipelineConfig,
                  stories: StoryConfig, progress: Callable[[str], None] | None = None) -> int:
    """Enriches the rows, gives each its story as the stage decides, and indexes them into `index`
    (created with the articles mapping); how many were indexed."""
    articles, _, _ = enrich_rows(rows, pipeline, progress=progress)
    story_ids, _ = run_stage([signature(article, stories) for article in articles], stories)
    storied = [article.model_copy(update={"story_id": story}) for article, story in zip(articles, story_ids,
                                                                                         strict=True)]
    ensure_index(es, index, ARTICLES_SPEC)
    bulk(es, bulk_actions(storied, index), refresh=True)
    return len(storied)


@dataclass(frozen=True)
class SuggestionsReport:
    articles: int
    languages: tuple[str, ...]
    words: dict[str, Suggestions]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"articles": self.articles, "languages": list(self.languages), "seconds": self.seconds,
                "words": {word: found.model_dump() for word, found in self.words.items()}}


def measure_suggestions(es: Any, rows: Sequence[Mapping[str, Any]], pipeline: PipelineConfig, stories: StoryConfig,
                        words: Sequence[str] = DEFAULT_WORDS, languages: Sequence[str] = ("de", "es", "it"),
                        per_language: int = 3, progress: Callable[[str], None] | None = None) -> SuggestionsReport:
    started = time.perf_counter()
    index = f"measure-suggestions-{uuid.uuid4().hex[:8]}"
    try:
        count = index_stories(es, index, rows, pipeline, stories, progress)
        found = {word: suggest_words(es, index, word, pipeline.languages, per_language=per_language)
                 for word in words}
    finally:
        es.options(ignore_status=404).indices.delete(index=index)
        es.options(ignore_status=404).indices.delete_index_template(name=f"{index}-template")
    return SuggestionsReport(count, tuple(languages), found, round(time.perf_counter() - started, 1))


def render_suggestions(report: SuggestionsReport) -> str:
    lines = [f"{report.articles} articles, stories formed by the stage. Each cell: the suggested words, best "
             "first, with (stories that have it / the query's stories; articles that have it / articles of those "
             "stories in that language the query misses); \"matches\": the word finds that language's articles "
             "already", "", "| word | stories | " + " | ".join(report.languages) + " |",
             "|" + "---|" * (len(report.languages) + 2)]
    for word, found in report.words.items():
        cells = ["matches" if language in found.covered else
                 ", ".join(f"{s.word} ({s.stories}/{found.stories}; {s.articles}/{s.of_articles})"
                           for s in found.by_language.get(language, [])) or "–"
                 for language in report.languages]
        lines.append(f"| {word} | {found.stories} | " + " | ".join(cells) + " |")
    lines.append(f"\n{report.seconds} s")
    return "\n".join(lines)
