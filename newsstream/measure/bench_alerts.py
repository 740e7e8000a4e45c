"""Benchmark of the alert rule index: matching time per article as the rules grow to 100 000.

Rules are generated from a real corpus the way analysts write them (single words, quoted phrases,
AND/OR/NOT combinations, some with filters), their words drawn from article text, so popular
words come up as often as they do in the news. Articles are enriched once up front: the timings
are matching only.
"""
from __future__ import annotations

import gc
import json
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from newsstream.settings import PROJECT_ROOT, Settings
from processors.alerts import ArticleTerms, RuleIndex
from processors.analysis import TOKEN, analyze
from processors.language import detect_language
from processors.config import PipelineConfig
from processors.pipeline import enrich_articles
from schemas import EnrichedArticle, RawArticle
from schemas.alerts import Rule

CORPUS_DIR = PROJECT_ROOT.parent / "shared" / "corpora" / "news"
SAMPLES = PROJECT_ROOT / "samples" / "articles.jsonl"
# Every rule has a specific word: one in at most this share of articles. A rule that fires on every
# other article is a feed, not an alert. Phrases, AND partners and excluded words may be any word.
SPECIFIC_SHARE = 0.01
TIMED_RUNS = 3
NAIVE_EVALUATIONS = 2_000_000  # the naive loop runs on as many articles as this budget allows
_OPERATORS = frozenset({"AND", "OR", "NOT", "TO"})


@dataclass(frozen=True)
class _CorpusText:
    """One corpus article as rule material: its words, and the analysed term of each (None: not a
    content word: a stop word, a number, a word too short to watch)."""

    words: tuple[str, ...]
    terms: tuple[str | None, ...]
    language: str
    source: str | None

    @cached_property
    def distinct(self) -> tuple[int, ...]:
        """The position of each content term's first occurrence."""
        first: dict[str, int] = {}
        for position, term in enumerate(self.terms):
            if term:
                first.setdefault(term, position)
        return tuple(first.values())


class _Vocabulary:
    """Draws words by the number of articles they occur in, so with news' Zipf distribution (and
    without the weight a word repeated throughout one article would get from running text)."""

    def __init__(self, texts: Sequence[_CorpusText]) -> None:
        self.texts = [text for text in texts if len(text.words) > 3 and text.distinct]
        document_frequency = Counter(text.terms[position] for text in self.texts for position in text.distinct)
        limit = max(1, int(SPECIFIC_SHARE * len(self.texts)))
        self.specific = frozenset(term for term, count in document_frequency.items() if count <= limit)

    def text(self, rng: random.Random) -> _CorpusText:
        return rng.choice(self.texts)

    def word(self, rng: random.Random, text: _CorpusText, *, specific: bool) -> str | None:
        """A content word of `text` (a specific one if asked), or None after a few misses."""
        for _ in range(20):
            position = rng.choice(text.distinct)
            if not specific or text.terms[position] in self.specific:
                return text.words[position]
        return None

    def phrase(self, rng: random.Random, text: _CorpusText) -> str | None:
        """2-3 consecutive words of `text` that begin and end with a content word, one of them specific."""
        length = rng.choice((2, 2, 3))
        for _ in range(40):
            start = rng.randrange(len(text.words) - length)
            terms = text.terms[start : start + length]
            if terms[0] and terms[-1] and not self.specific.isdisjoint(terms):
                return " ".join(text.words[start : start + length])
        return None


def _rule_query(rng: random.Random, vocabulary: _Vocabulary, text: _CorpusText) -> str | None:
    """One query in the shapes analysts use, all words from one article (so combinations co-occur)."""

    def specific() -> str | None:
        return vocabulary.word(rng, text, specific=True)

    def common() -> str | None:
        return vocabulary.word(rng, text, specific=False)

    match rng.choices(("word", "phrase", "and", "or", "not", "group"), weights=(35, 20, 15, 10, 10, 10))[0]:
        case "word":
            template, parts = "{}", [specific()]
        case "phrase":
            template, parts = '"{}"', [vocabulary.phrase(rng, text)]
        case "and":
            template, parts = rng.choice(("{} AND {}", "{} {}", "+{} +{}")), [common(), specific()]
        case "or":
            parts = [specific() for _ in range(rng.choice((2, 3)))]
            template = " OR ".join(["{}"] * len(parts))
        case "not":
            template, parts = rng.choice(("{} AND NOT {}", "{} -{}")), [specific(), common()]
        case _:
            template, parts = "({} OR {}) AND {}", [specific(), specific(), common()]
    if any(part is None or part in _OPERATORS for part in parts):
        return None
    return template.format(*parts)


def generate_rules(
    count: int, rows: Sequence[dict[str, Any]], entities: Sequence[str] = (), seed: int = 0
) -> list[Rule]:
    """`count` rules written from corpus rows (body, lang?, source?); about one in ten filters on
    language, a few on source or on one of `entities`."""
    rng = random.Random(seed)
    vocabulary = _Vocabulary([_corpus_text(row) for row in rows])
    rules: list[Rule] = []
    while len(rules) < count:
        text = vocabulary.text(rng)
        query = _rule_query(rng, vocabulary, text)
        if query is None:
            continue
        filters = rng.random()
        rules.append(Rule(
            name=f"rule-{len(rules):06d}",
            query=query,
            lang=text.language if filters < 0.10 else None,
            source=text.source if 0.10 <= filters < 0.13 else None,
            entity=rng.choice(entities) if entities and 0.13 <= filters < 0.15 else None,
        ))
    return rules


def load_corpus_rows() -> list[dict[str, Any]]:
    """The news corpus when present, else the shipped samples."""
    files = sorted(CORPUS_DIR.glob("*.jsonl")) if CORPUS_DIR.is_dir() else []
    return [json.loads(line) for path in (files or [SAMPLES])
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _corpus_text(row: dict[str, Any]) -> _CorpusText:
    # Body only: a phrase taken across the title/body boundary would be one no article contains.
    words = tuple(TOKEN.findall(row["body"]))
    language = row.get("lang") or detect_language(row["body"]).code
    terms = tuple(
        analysed[0] if len(word) >= 3 and word.isalpha() and len(analysed := analyze(word, language)) == 1 else None
        for word in words
    )
    return _CorpusText(words, terms, language, row.get("source"))


def _enriched(rows: Iterable[dict[str, Any]], config: PipelineConfig) -> list[EnrichedArticle]:
    raws = [RawArticle(id=row.get("id", ""), url=row.get("url"), source=row.get("source"),
                       title=row.get("title", ""), body=row["body"]) for row in rows]
    return [article for article in enrich_articles(raws, config) if isinstance(article, EnrichedArticle)]


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _per_article_ms(match: Callable[[EnrichedArticle], object], articles: Sequence[EnrichedArticle]) -> list[float]:
    """Each article's best of a few runs: the first warms caches, and the best is the least disturbed
    by whatever else shares the core."""
    timings = []
    for article in articles:
        runs = []
        for _ in range(TIMED_RUNS):
            started = time.perf_counter()
            match(article)
            runs.append((time.perf_counter() - started) * 1000)
        timings.append(min(runs))
    return timings


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_alert_bench(
    settings: Settings, rule_counts: Sequence[int] = (100, 10_000, 100_000), articles: int = 300, seed: int = 0
) -> dict[str, dict[str, float | int]]:
    """Per rule count (ascending, as strings): median and p99 matching ms per article, the naive
    loop's median, RSS after building the index, median candidate queries, mean matches."""
    rows = load_corpus_rows()
    random.Random(seed).shuffle(rows)
    matched = _enriched(rows[:articles], settings.pipeline)
    entities = sorted({entity.text for article in matched for entity in article.entities})
    # Rules are written from other articles than those matched: analysts watch yesterday's words.
    rule_rows = rows[articles:] or rows
    rules = generate_rules(max(rule_counts), rule_rows, entities, seed)
    result: dict[str, dict[str, float | int]] = {}
    for count in sorted(rule_counts):
        index = RuleIndex(settings.language_set)
        for rule in rules[:count]:
            index.add(rule)
        gc.collect()
        timings = _per_article_ms(index.match, matched)
        naive_subset = matched[: max(3, NAIVE_EVALUATIONS // count)]
        result[str(count)] = {
            "median_ms": round(statistics.median(timings), 4),
            "p99_ms": round(_percentile(timings, 0.99), 4),
            "naive_median_ms": round(statistics.median(_per_article_ms(index.match_naive, naive_subset)), 4),
            "rss_mb": round(_rss_mb(), 1),
            "candidates_median": statistics.median(len(index.candidates(ArticleTerms.from_article(a))) for a in matched),
            "matches_mean": round(statistics.mean(len(index.match(article)) for article in matched), 2),
            "articles": len(matched),
            "naive_articles": len(naive_subset),
        }
        del index
    return result


def render_alert_bench(result: dict[str, dict[str, float | int]]) -> str:
    header = ("rules", "median ms", "p99 ms", "naive median ms", "candidates", "matches/article", "RSS MB", "articles")
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    for count, row in result.items():
        lines.append(" | ".join(str(value) for value in (
            f"{int(count):,}", row["median_ms"], row["p99_ms"], row["naive_median_ms"], row["candidates_median"],
            row["matches_mean"], row["rss_mb"], f"{row['articles']} (naive {row['naive_articles']})",
        )))
    return "\n".join(lines)
