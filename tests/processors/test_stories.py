"""The story stage alone, on the wire copies the project ships: copies are found through edits,
and the in-memory store finds what a full scan would."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from newsstream.settings import PROJECT_ROOT
from processors.config import StoryConfig
from processors.stories import InMemoryStories, is_copy, retrieval_score, shingles, signature
from schemas import EnrichedArticle, RawArticle

CONFIG = StoryConfig()
START = datetime(2026, 11, 24, 10, tzinfo=timezone.utc)


def _articles() -> list[EnrichedArticle]:
    lines = (PROJECT_ROOT / "samples" / "articles-wire-copies.jsonl").read_text(encoding="utf-8").splitlines()
    raws = [RawArticle.model_validate_json(line) for line in lines]
    return [EnrichedArticle(id=raw.id or str(i), title=raw.title, body=raw.body, language="en", languages=[],
                            title_terms=raw.title.casefold(), body_terms=raw.body.casefold(),
                            published_at=START + timedelta(minutes=i)) for i, raw in enumerate(raws)]


def test_shingles_are_distinct_word_runs_and_a_short_text_is_one() -> None:
    assert shingles("A b a b a b", 2) == ["a b", "b a"]
    assert shingles("Two words", 4) == ["two words"] and shingles("", 4) == []


def test_a_copy_with_a_new_headline_a_credit_and_a_cut_ending_is_a_copy() -> None:
    original = _articles()[0]
    paragraphs = original.body.split("\n\n")
    edited = original.model_copy(update={
        "id": "edited", "title": "Shadow fleet hit by EU",
        "body": "\n\n".join([*paragraphs[:-1], "© Example Wire 2026. Read more on our site."])})
    other = original.model_copy(update={"id": "other", "body": "Ministers met in Brussels to discuss farm subsidies "
                                        "and the price of grain for the coming season, without a decision."})
    first, copy, unrelated = (signature(a, CONFIG) for a in (original, edited, other))
    assert is_copy(first, copy, CONFIG) and not is_copy(first, unrelated, CONFIG)


def test_the_inverted_index_finds_what_a_full_scan_finds() -> None:
    articles = _articles()
    store = InMemoryStories(CONFIG)
    store.assign(articles[:-1])
    probe = signature(articles[-1], CONFIG)
    (found,) = store.candidates([probe])
    scanned = sorted(((retrieval_score(probe, s, CONFIG), s.id) for s in store.stored.values()
                      if retrieval_score(probe, s, CONFIG) > 0), key=lambda item: (-item[0], item[1]))
    assert [s.id for s in found] == [sid for _, sid in scanned][: CONFIG.candidates]
