"""Story clustering (`story_id`, processors/stories.py) against gold stories: B-cubed precision,
recall and F1 of the stage's clustering, beside two baselines and a threshold sweep.

Method:
- Rows (JSON Lines: title, body, lang, published_at when known, and the gold `story`; or the
  French-News-Clustering CSV, `parse_french_news_clustering`) become raw articles, each with its
  `lang` as the feed's `language_hint`, as the poller declares a feed's language. A row without
  `published_at` gets a fixed time plus one second per row. Arrival order is publication order
  (stable: file order on ties).
- Every article is enriched once (`enrich_articles`: cleaning, language, NER, linking, term
  analysis) in batches; an article a stage fails on is left out and counted.
- For each setting, the stage runs over the enriched articles in arrival order as the worker runs
  it: batches of 64, candidates from `InMemoryStories` (the store's inverted index), decisions by
  `assign_batch`, decided signatures recorded and merges applied. An article's predicted story is
  its signature's `story_id` once the stream has run (merges relabel earlier articles). Signatures
  depend on no threshold, so they are computed once; decisions, hence candidates' story ids, do.
- B-cubed (Bagga & Baldwin 1998): an item's precision is |its predicted cluster ∩ its gold
  cluster| / |its predicted cluster|, its recall the same over |its gold cluster|; both averaged
  over items, F1 their harmonic mean. Singletons score precision 1, so the singleton baseline is
  the floor recall must beat; exact-normalised-title grouping is the cheap baseline to beat on F1.
- Pairs: precision and recall of the pairs of articles in one story (predicted / gold), which,
  unlike B-cubed, singletons do not flatter (on a set where most gold stories are one article,
  B-cubed recall is high whatever the stage does); and the same over the cross-language pairs
  (two articles of different languages), which B-cubed over a mostly monolingual set hides.
- Relatedness of pairs (sets of at most PAIR_LIMIT articles): `relatedness` of every pair within
  the window, split by same / different language and same / different gold story, with how many
  reach the threshold that applies: what a threshold can and cannot separate.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from processors.config import PipelineConfig, StoryConfig
from processors.pipeline import StageFailed, enrich_articles
from processors.stories import InMemoryStories, assign_batch, join_threshold, relatedness, signature
from schemas import EnrichedArticle, RawArticle
from schemas.stories import StorySignature

SWEEP_SAME_LANGUAGE = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # headlines alone want the top
SWEEP_CROSS_LANGUAGE = (0.3, 0.4, 0.5)
DEFAULT_THRESHOLDS: tuple[tuple[float, float], ...] = tuple(
    itertools.product(SWEEP_SAME_LANGUAGE, SWEEP_CROSS_LANGUAGE))
BATCH_SIZE = 64  # the worker's Kafka batch
ENRICH_BATCH = 256
PAIR_LIMIT = 600  # every pair is scored below this many articles (a gold set, not a day of news)
EXAMPLES = 10
BASE_TIME = datetime(2026, 12, 3, tzinfo=timezone.utc)

_TITLE_WORDS = re.compile(r"\w+")
_OBJECT_ID = re.compile(r"ObjectId\(([0-9a-f]+)\)")


# --- gold rows -----------------------------------------------------------------------------------


def load_gold_rows(path: Path) -> list[dict[str, Any]]:
    """A gold set's JSON Lines rows: title, body, lang, story, and id, source, published_at."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def parse_french_news_clustering(text: str) -> list[dict[str, Any]]:
    """The French-News-Clustering day (`api/client/test_one_day.csv`: title, timestamp,
    `ObjectId(…)` of the aggregator's story, category, scores; no header) as gold rows. A (title,
    story) pair listed again is one article, at its first timestamp (naive, read as UTC: only
    differences count); the headline is the only text, so it is the body too."""
    first: dict[tuple[str, str], tuple[str, str]] = {}
    for record in csv.reader(io.StringIO(text)):
        if len(record) < 4 or not (found := _OBJECT_ID.fullmatch(record[2].strip())):
            continue
        title, stamp, category = record[0].strip(), record[1].strip(), record[3].strip()
        key = (title, found.group(1))
        if title and (key not in first or stamp < first[key][0]):
            first[key] = (stamp, category)
    ordered = sorted(first.items(), key=lambda item: item[1][0])
    return [{"id": f"fnc-{number:05d}", "title": title, "body": title, "lang": "fr", "story": story,
             "category": category,
             "published_at": datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc).isoformat()}
            for number, ((title, story), (stamp, category)) in enumerate(ordered)]


def read_french_news_clustering(path: Path) -> list[dict[str, Any]]:
    return parse_french_news_clustering(path.read_text(encoding="utf-8"))


def _published(row: Mapping[str, Any], number: int) -> datetime:
    given = row.get("published_at")
    if not given:
        return BASE_TIME + timedelta(seconds=number)
    moment = datetime.fromisoformat(str(given).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def raw_articles(rows: Sequence[Mapping[str, Any]]) -> tuple[list[RawArticle], list[str]]:
    """The rows as raw articles in arrival order, with their gold stories (rows without a story
    or a body are left out)."""
    timed = sorted(((_published(row, number), number, row) for number, row in enumerate(rows)
                    if row.get("story") and str(row.get("body") or "").strip()), key=lambda item: item[:2])
    if not timed:
        raise ValueError("no row has both a body and a gold `story`")
    raws = [RawArticle(id=str(row.get("id") or f"row-{number}"), source=row.get("source"),
                       title=str(row.get("title") or ""), body=str(row["body"]), published_at=published,
                       metadata={"language_hint": row["lang"]} if row.get("lang") else {})
            for published, number, row in timed]
    # The stage keys its store on ids: a gold set listing one id twice would score one article.
    if repeated := [identifier for identifier, n in Counter(raw.id for raw in raws).items() if n > 1]:
        raise ValueError(f"ids listed more than once: {', '.join(sorted(repeated)[:5])}")
    return raws, [str(row["story"]) for _, _, row in timed]


# --- scores --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BCubed:
    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def b_cubed(predicted: Sequence[str], gold: Sequence[str]) -> BCubed:
    """Bagga & Baldwin's B-cubed of a predicted clustering against the gold one (labels by item)."""
    if len(predicted) != len(gold):
        raise ValueError("one predicted and one gold label per item")
    if not gold:
        return BCubed(1.0, 1.0, 1.0)
    cells = Counter(zip(predicted, gold))
    predicted_sizes, gold_sizes = Counter(predicted), Counter(gold)
    # Every item of a (predicted, gold) cell has the same precision and recall: sum by cell.
    precision = sum(n * n / predicted_sizes[p] for (p, _), n in cells.items()) / len(gold)
    recall = sum(n * n / gold_sizes[g] for (_, g), n in cells.items()) / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BCubed(round(precision, 4), round(recall, 4), round(f1, 4))


@dataclass(frozen=True)
class PairScore:
    """Pairs of articles in one story: in the gold, in the prediction, in both."""

    gold: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float:
        return round(self.correct / self.predicted, 4) if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return round(self.correct / self.gold, 4) if self.gold else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "precision": self.precision, "recall": self.recall}


def _cross_pairs(groups: Sequence[tuple[str, ...]], languages: Sequence[str]) -> int:
    """Pairs of items with the same group key and different languages."""
    by_group: dict[tuple[str, ...], Counter[str]] = {}
    for group, language in zip(groups, languages, strict=True):
        by_group.setdefault(group, Counter())[language] += 1
    return sum((sum(c.values()) ** 2 - sum(n * n for n in c.values())) // 2 for c in by_group.values())


def same_story_pairs(predicted: Sequence[str], gold: Sequence[str]) -> PairScore:
    """Pairwise precision and recall (blind to singletons, unlike B-cubed)."""
    def pairs(groups: Sequence[Any]) -> int:
        return sum(n * (n - 1) // 2 for n in Counter(groups).values())

    return PairScore(gold=pairs(gold), predicted=pairs(predicted), correct=pairs(list(zip(predicted, gold))))


def cross_language_pairs(predicted: Sequence[str], gold: Sequence[str], languages: Sequence[str]) -> PairScore:
    """The pairs of articles of different languages."""
    return PairScore(gold=_cross_pairs([(g,) for g in gold], languages),
                     predicted=_cross_pairs([(p,) for p in predicted], languages),
                     correct=_cross_pairs(list(zip(predicted, gold)), languages))


@dataclass(frozen=True)
class Clustering:
    """One clustering's scores."""

    name: str
    b_cubed: BCubed
    pairs: PairScore
    cross_language: PairScore
    stories: int  # predicted
    largest: int  # articles in the largest predicted story: chaining shows here first
    merges: int = 0  # stories the stage merged into earlier ones

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "b_cubed": self.b_cubed.as_dict(), "pairs": self.pairs.as_dict(),
                "cross_language": self.cross_language.as_dict(), "stories": self.stories, "largest": self.largest,
                "merges": self.merges}


def _clustering(name: str, predicted: Sequence[str], gold: Sequence[str], languages: Sequence[str],
                merges: int = 0) -> Clustering:
    return Clustering(name=name, b_cubed=b_cubed(predicted, gold), pairs=same_story_pairs(predicted, gold),
                      cross_language=cross_language_pairs(predicted, gold, languages),
                      stories=len(set(predicted)), largest=max(Counter(predicted).values(), default=0),
                      merges=merges)


# --- baselines -------------------------------------------------------------------------------------


def normalised_title(title: str) -> str:
    return " ".join(_TITLE_WORDS.findall(title.casefold()))


def title_baseline(articles: Sequence[EnrichedArticle]) -> list[str]:
    """Articles with the same normalised title are one story (an empty title is its own)."""
    first: dict[str, str] = {}
    return [first.setdefault(key, article.id) if (key := normalised_title(article.title)) else article.id
            for article in articles]


# --- the stage ---------------------------------------------------------------------------------------


def run_stage(signatures: Sequence[StorySignature], config: StoryConfig,
              batch_size: int = BATCH_SIZE) -> tuple[list[str], int]:
    """Each article's final story id, and how many stories were merged: what
    `InMemoryStories.assign` does batch by batch, on signatures made once."""
    store = InMemoryStories(config)
    merged = 0
    for start in range(0, len(signatures), batch_size):
        batch = signatures[start:start + batch_size]
        results, merges = assign_batch(batch, store.candidates(batch), config)
        store.record(results)
        store.merge(merges)
        merged += len(merges)
    return [store.stored[s.id].story_id or s.id for s in signatures], merged


# --- pairs ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairGroup:
    """The relatedness of one kind of pair (same or different language, same or different story)."""

    languages: str  # "same" or "cross"
    story: str  # "same" or "different"
    pairs: int
    median: float
    p90: float
    max: float
    reaching_threshold: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RelatedPair:
    a: str
    b: str
    story_a: str
    story_b: str
    relatedness: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quantile(values: Sequence[float], share: float) -> float:
    return round(sorted(values)[min(len(values) - 1, int(share * len(values)))], 4) if values else 0.0


def pair_relatedness(signatures: Sequence[StorySignature], gold: Sequence[str],
                     config: StoryConfig) -> tuple[tuple[PairGroup, ...], tuple[RelatedPair, ...]]:
    """Every pair within the window, grouped; and the most related pairs of different stories."""
    scores: dict[tuple[str, str], list[float]] = {}
    confusable: list[RelatedPair] = []
    reaching: Counter[tuple[str, str]] = Counter()
    for i, j in itertools.combinations(range(len(signatures)), 2):
        a, b = signatures[i], signatures[j]
        if abs(a.published - b.published) > config.window:
            continue
        same_language = a.language == b.language
        key = ("same" if same_language else "cross", "same" if gold[i] == gold[j] else "different")
        score = relatedness(a, b)
        scores.setdefault(key, []).append(score)
        reaching[key] += score >= join_threshold(a, b, config)
        if gold[i] != gold[j]:
            confusable.append(RelatedPair(a.id, b.id, gold[i], gold[j], round(score, 4)))
    groups = tuple(PairGroup(languages=languages, story=story, pairs=len(values), median=_quantile(values, 0.5),
                             p90=_quantile(values, 0.9), max=round(max(values), 4),
                             reaching_threshold=reaching[(languages, story)])
                   for (languages, story), values in sorted(scores.items()))
    top = sorted(confusable, key=lambda pair: (-pair.relatedness, pair.a, pair.b))[:EXAMPLES]
    return groups, tuple(top)


# --- the report ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPoint:
    same_language_threshold: float
    cross_language_threshold: float
    clustering: Clustering

    def as_dict(self) -> dict[str, Any]:
        return {"same_language_threshold": self.same_language_threshold,
                "cross_language_threshold": self.cross_language_threshold, **self.clustering.as_dict()}


@dataclass(frozen=True)
class StoriesReport:
    corpus: str
    config: dict[str, Any]  # the story settings the stage ran with
    articles: int
    failed: int  # articles a stage failed on, left out
    languages: dict[str, int]  # detected
    gold_stories: int
    gold_singletons: int
    stage: Clustering
    baselines: tuple[Clustering, ...]
    sweep: tuple[SweepPoint, ...]
    pairs: tuple[PairGroup, ...]  # empty above PAIR_LIMIT articles
    confusable: tuple[RelatedPair, ...]
    enrich_s: float
    stage_ms_per_article: float
    total_s: float

    @property
    def best(self) -> SweepPoint | None:
        """The sweep's highest B-cubed F1 (the first of equals)."""
        return max(self.sweep, key=lambda point: point.clustering.b_cubed.f1, default=None)

    def as_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            **{key: getattr(self, key) for key in (
                "corpus", "config", "articles", "failed", "languages", "gold_stories", "gold_singletons",
                "enrich_s", "stage_ms_per_article", "total_s")},
            "stage": self.stage.as_dict(), "baselines": [baseline.as_dict() for baseline in self.baselines],
            "sweep": [point.as_dict() for point in self.sweep], "best": best.as_dict() if best else None,
            "pairs": [group.as_dict() for group in self.pairs],
            "confusable": [pair.as_dict() for pair in self.confusable],
        }


def enrich_rows(rows: Sequence[Mapping[str, Any]], config: PipelineConfig, batch_size: int = ENRICH_BATCH,
                progress: Callable[[str], None] | None = None) -> tuple[list[EnrichedArticle], list[str], int]:
    """The rows' articles enriched, in arrival order, with their gold stories; and how many failed."""
    say = progress or (lambda message: None)
    raws, stories = raw_articles(rows)
    started = time.perf_counter()
    articles: list[EnrichedArticle] = []
    gold: list[str] = []
    failed = 0
    for start in range(0, len(raws), batch_size):
        batch = raws[start:start + batch_size]
        for result, story in zip(enrich_articles(batch, config), stories[start:start + batch_size], strict=True):
            if isinstance(result, StageFailed):
                failed += 1
            else:
                articles.append(result)
                gold.append(story)
        say(f"enriched {min(len(raws), start + batch_size)}/{len(raws)} ({time.perf_counter() - started:.1f} s)")
    return articles, gold, failed


def evaluate_enriched(articles: Sequence[EnrichedArticle], gold: Sequence[str], story_config: StoryConfig,
                      thresholds: Sequence[tuple[float, float]] = DEFAULT_THRESHOLDS, failed: int = 0,
                      enrich_s: float = 0.0, corpus: str = "",
                      progress: Callable[[str], None] | None = None) -> StoriesReport:
    """The stage at `story_config` and at each (same_language_threshold, cross_language_threshold)
    of `thresholds`, and the baselines, on enriched articles in arrival order."""
    say = progress or (lambda message: None)
    started = time.perf_counter()
    signatures = [signature(article, story_config) for article in articles]
    languages = [s.language for s in signatures]

    clock = time.perf_counter()
    predicted, merges = run_stage(signatures, story_config)
    stage_ms = 1000 * (time.perf_counter() - clock) / max(1, len(signatures))
    stage = _clustering("stage", predicted, gold, languages, merges)
    say(f"stage: B-cubed F1 {stage.b_cubed.f1:.4f} ({stage_ms:.2f} ms/article)")
    baselines = (_clustering("singletons", [a.id for a in articles], gold, languages),
                 _clustering("exact normalised title", title_baseline(articles), gold, languages))

    # In one language the cross-language threshold decides nothing: one run per same-language one.
    multilingual = len(set(languages)) > 1
    runs: dict[tuple[float, float | None], Clustering] = {
        (story_config.same_language_threshold, story_config.cross_language_threshold if multilingual else None): stage}
    sweep = []
    for number, (same, cross) in enumerate(thresholds, 1):
        key = (same, cross if multilingual else None)
        if key not in runs:
            setting = replace(story_config, same_language_threshold=same, cross_language_threshold=cross)
            predicted_at, merged_at = run_stage(signatures, setting)
            runs[key] = _clustering("stage", predicted_at, gold, languages, merged_at)
        clustering = runs[key]
        sweep.append(SweepPoint(same, cross, clustering))
        say(f"sweep {number}/{len(thresholds)}: same {same:.2f}, cross {cross:.2f}: "
            f"B-cubed P {clustering.b_cubed.precision:.4f} R {clustering.b_cubed.recall:.4f} "
            f"F1 {clustering.b_cubed.f1:.4f}")

    pairs, confusable = pair_relatedness(signatures, gold, story_config) if len(signatures) <= PAIR_LIMIT else ((), ())
    gold_sizes = Counter(gold)
    return StoriesReport(
        corpus=corpus,
        config={"same_language_threshold": story_config.same_language_threshold,
                "cross_language_threshold": story_config.cross_language_threshold,
                "window_hours": story_config.window / timedelta(hours=1), "story_terms": story_config.story_terms,
                "candidates": story_config.candidates},
        articles=len(articles), failed=failed, languages=dict(Counter(languages).most_common()),
        gold_stories=len(gold_sizes), gold_singletons=sum(1 for n in gold_sizes.values() if n == 1),
        stage=stage, baselines=baselines, sweep=tuple(sweep), pairs=pairs, confusable=confusable,
        enrich_s=round(enrich_s, 2), stage_ms_per_article=round(stage_ms, 3),
        total_s=round(enrich_s + time.perf_counter() - started, 2))


def evaluate_stories(rows: Sequence[Mapping[str, Any]], pipeline: PipelineConfig,
                     story_config: StoryConfig | None = None,
                     thresholds: Sequence[tuple[float, float]] = DEFAULT_THRESHOLDS,
                     progress: Callable[[str], None] | None = None, corpus: str = "") -> StoriesReport:
    """Enriches the rows once with `pipeline`, then scores the stage at `story_config` (default
    `StoryConfig()`), the sweep and the baselines."""
    clock = time.perf_counter()
    articles, gold, failed = enrich_rows(rows, pipeline, progress=progress)
    return evaluate_enriched(articles, gold, story_config or StoryConfig(), thresholds, failed=failed,
                             enrich_s=time.perf_counter() - clock, corpus=corpus, progress=progress)


# --- rendering -------------------------------------------------------------------------------------


def _columns(cross: bool) -> str:
    return (f"{'B3 prec':>9}{'B3 rec':>9}{'B3 F1':>9}{'pair P':>9}{'pair R':>9}"
            + (f"{'x-lang P':>10}{'x-lang R':>10}" if cross else "") + f"{'stories':>9}{'largest':>9}")


def _scores(clustering: Clustering, cross: bool) -> str:
    score, pairs, across = clustering.b_cubed, clustering.pairs, clustering.cross_language
    return (f"{score.precision:>9.4f}{score.recall:>9.4f}{score.f1:>9.4f}{pairs.precision:>9.4f}{pairs.recall:>9.4f}"
            + (f"{across.precision:>10.4f}{across.recall:>10.4f}" if cross else "")
            + f"{clustering.stories:>9}{clustering.largest:>9}")


def render_stories(report: StoriesReport) -> str:
    config = report.config
    cross = report.stage.cross_language.gold > 0
    languages = ", ".join(f"{language} {count}" for language, count in report.languages.items())
    stage_label = (f"stage (same {config['same_language_threshold']:.2f}, "
                   f"cross {config['cross_language_threshold']:.2f})")
    lines = [
        f"Story clustering{f' on {report.corpus}' if report.corpus else ''}: {report.articles} articles "
        f"({languages}) in arrival order, batches of {BATCH_SIZE}"
        + (f"; {report.failed} failed enrichment, left out" if report.failed else ""),
        f"  gold: {report.gold_stories} stories, {report.gold_singletons} of one article; "
        f"{report.stage.pairs.gold} same-story pairs" + (f", {report.stage.cross_language.gold} across languages"
                                                          if cross else ""),
        "", f"  {'':<30}{_columns(cross)}",
        f"  {stage_label:<30}{_scores(report.stage, cross)}",
        *(f"  {baseline.name:<30}{_scores(baseline, cross)}" for baseline in report.baselines),
    ]
    if report.sweep:
        best = report.best
        lines += ["", "  threshold sweep (same-language, cross-language; * best B-cubed F1, = configured)",
                  f"  {'same':>6}{'cross':>7}{_columns(cross)}{'merges':>8}"]
        for point in report.sweep:
            configured = (point.same_language_threshold, point.cross_language_threshold) == (
                config["same_language_threshold"], config["cross_language_threshold"])
            lines.append(f"  {point.same_language_threshold:>6.2f}{point.cross_language_threshold:>7.2f}"
                         f"{_scores(point.clustering, cross)}{point.clustering.merges:>8}"
                         + (" *" if point is best else "") + (" =" if configured else ""))
    if report.pairs:
        lines += ["", "  relatedness of pairs within the window (reaching: at the configured threshold)",
                  f"  {'languages':<10}{'story':<11}{'pairs':>7}{'median':>8}{'p90':>7}{'max':>7}{'reaching':>10}"]
        lines += [f"  {g.languages:<10}{g.story:<11}{g.pairs:>7}{g.median:>8.3f}{g.p90:>7.3f}{g.max:>7.3f}"
                  f"{g.reaching_threshold:>10}" for g in report.pairs]
    if report.confusable:
        lines += ["", "  most related pairs of different gold stories:"]
        lines += [f"    {p.relatedness:.3f}  {p.a} [{p.story_a}] ~ {p.b} [{p.story_b}]" for p in report.confusable]
    lines += ["", f"  time: enrichment {report.enrich_s:.1f} s, stage {report.stage_ms_per_article:.2f} ms/article; "
                  f"{report.total_s:.1f} s in all"]
    return "\n".join(lines)
