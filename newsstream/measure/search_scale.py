"""Search at scale: what the API's search (a page of 10 with facets, the date histogram, stories
collapsed, snippets highlighted) and `alerts test` cost with 100,000 and 1,000,000 stored articles.

The stored articles are enriched copies of a corpus (default: the shipped samples; `--corpus` for
more, e.g. the news in ../shared/corpora/news/): each row is enriched once by the product's pipeline
in this process and given its story by the story stage, then copied with a new id, a publication
date spread over the year before now, and its story id made per copy, so that each copy round is
stories of its own (collapse sees as many stories as a real year would, entity facets the corpus's
entities). The index gets the articles mapping and the deployment's replicas (`index_replicas`),
so the same command measures the single node and the cluster profile.

Timed per query of `SEARCHES`, after `WARM_UP` untimed runs: `search_page` as `GET /search` calls it,
`repeats` times; wall time in this process (request, Elasticsearch, parsing, highlighting) and
Elasticsearch's own `took`. `alerts test` (`stored_matches`, which reads only the articles holding
one of the rule's trigger terms) for each of `ALERT_QUERIES`; at the first size also the full scan
it replaced, for the ratio. The index is deleted at the end.
"""
from __future__ import annotations

import itertools
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan

from newsstream.measure.bench import copies
from newsstream.measure.bulk import bulk_load, index_stats, percentile
from newsstream.measure.stories import run_stage
from newsstream.search import SearchFilters, search_page, stored_matches
from processors.alerts import RuleIndex
from processors.config import PipelineConfig, StoryConfig
from processors.index import article_document, article_from_document
from processors.knowledge import KnowledgeBase
from processors.pipeline import StageFailed, enrich_articles
from processors.stories import signature
from schemas.alerts import Rule
from schemas.articles import EnrichedArticle
from schemas.indices import INDICES

INDEX_PREFIX = "bench-search-scale"
ARTICLES_SPEC = next(spec for spec in INDICES if spec.role == "articles")
ENRICH_BATCH = 64
WARM_UP = 3
YEAR_S = 365 * 24 * 3600


@dataclass(frozen=True)
class Search:
    name: str
    query: str
    filters: SearchFilters = SearchFilters()
    page: int = 1


# What the page and the API are asked most: words, everything newest first, a language, an
# entity (filled in with the corpus's commonest), and a deep page.
SEARCHES: tuple[Search, ...] = (
    Search("one word", "sanctions"),
    Search("two words", "interest rates"),
    Search("everything, newest first", "*"),
    Search("one word, in German", "Regierung", SearchFilters(lang="de")),
    Search("commonest entity", "*"),  # its filter is set once the corpus is known
    Search("page 100 of one word", "government", page=100),
)
ALERT_QUERIES: tuple[str, ...] = ("sanctions", '"interest rates"', "earthquake OR floods")


@dataclass
class Timing:
    wall_ms_p50: float
    wall_ms_p99: float
    took_ms_p50: float
    took_ms_p99: float
    total: int


@dataclass
class AlertTiming:
    query: str
    matches: int
    read: int  # stored articles read and matched
    seconds: float
    full_scan_seconds: float | None = None  # reading every stored article, as before


@dataclass
class SizeReport:
    stored: int
    replicas: int
    nodes: int
    index_s: float
    docs_per_s: float
    size_mb: float
    segments: int
    searches: dict[str, Timing] = field(default_factory=dict)
    alerts: list[AlertTiming] = field(default_factory=list)


def enriched_corpus(rows: Sequence[dict[str, Any]], pipeline: PipelineConfig, stories: StoryConfig,
                    progress: Callable[[str], None]) -> list[dict[str, Any]]:
    """The rows enriched once, each with the story the stage gives it, as stored documents."""
    raws = copies(rows, len(rows), "s")
    articles: list[EnrichedArticle] = []
    for start in range(0, len(raws), ENRICH_BATCH):
        articles += [result for result in enrich_articles(raws[start:start + ENRICH_BATCH], pipeline)
                     if not isinstance(result, StageFailed)]
        progress(f"enriched {min(len(raws), start + ENRICH_BATCH)}/{len(raws)}")
    story_ids, _ = run_stage([signature(article, stories) for article in articles], stories)
    return [article_document(article.model_copy(update={"story_id": story}))
            for article, story in zip(articles, story_ids, strict=True)]


def stored_copies(corpus: Sequence[dict[str, Any]], total: int, now: datetime) -> Iterator[dict[str, Any]]:
    """`total` copies of the corpus's documents: new ids, dates over the year before `now`, stories per copy."""
    for number, base in zip(range(total), itertools.cycle(corpus)):
        round_ = number // len(corpus)
        # A multiplicative hash spreads the dates evenly without a random generator's state.
        published = now - timedelta(seconds=(number * 2_654_435_761) % YEAR_S)
        yield {**base, "id": f"{base['id']}.{round_}", "story_id": f"{base['story_id']}.{round_}",
               "duplicate_of": f"{base['duplicate_of']}.{round_}" if base.get("duplicate_of") else None,
               "published_at": published.isoformat(), "processed_at": published.isoformat()}


def commonest_entity(corpus: Sequence[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for document in corpus:
        for entity_id in document.get("entity_ids") or ():
            counts[entity_id] = counts.get(entity_id, 0) + 1
    return max(counts, key=lambda entity_id: (counts[entity_id], entity_id))


def time_search(es: Elasticsearch, index: str, search: Search, languages: Sequence[str], kb: KnowledgeBase,
                repeats: int) -> Timing:
    walls, tooks, total = [], [], 0
    recorder = _TookRecorder(es)
    for run in range(WARM_UP + repeats):
        started = time.perf_counter()
        page = search_page(recorder, index, search.query, languages, search.filters, page=search.page, kb=kb)
        wall = (time.perf_counter() - started) * 1000
        if run >= WARM_UP:
            walls.append(wall)
            tooks.append(float(recorder.took))
        total = page.total
    return Timing(round(statistics.median(walls), 1), round(percentile(walls, 99), 1),
                  round(statistics.median(tooks), 1), round(percentile(tooks, 99), 1), total)


class _TookRecorder:
    """The client `search_page` is given: passes its requests on and keeps Elasticsearch's `took`
    (the search's and the facet names' msearch's)."""

    def __init__(self, es: Elasticsearch) -> None:
        self._es, self.took = es, 0

    def search(self, **request: Any) -> Any:
        response = self._es.search(**request)
        self.took = response["took"]
        return response

    def msearch(self, **request: Any) -> Any:
        response = self._es.msearch(**request)
        self.took += response["took"]
        return response


def time_alert_test(es: Elasticsearch, index: str, query: str, languages: Sequence[str], full_scan: bool) -> AlertTiming:
    rules = RuleIndex(languages)
    rules.add(Rule(name="test", query=query))
    started = time.perf_counter()
    found = list(stored_matches(es, index, rules))
    seconds = time.perf_counter() - started
    read = es.count(index=index, query=rules.stored_candidates_query())["count"]
    timing = AlertTiming(query, len(found), read, round(seconds, 2))
    if full_scan:
        started = time.perf_counter()
        every = sum(len(rules.match(article_from_document(hit["_source"])))
                    for hit in scan(es, index=index, query={"query": {"match_all": {}}}))
        timing.full_scan_seconds = round(time.perf_counter() - started, 2)
        if every != len(found):
            raise RuntimeError(f"alerts test of {query!r}: {len(found)} matches among the candidates, {every} in all")
    return timing


def run_search_scale(es: Elasticsearch, rows: Sequence[dict[str, Any]], pipeline: PipelineConfig,
                     stories: StoryConfig, sizes: Sequence[int], replicas: int | None, kb: KnowledgeBase,
                     repeats: int = 30, progress: Callable[[str], None] = print) -> dict[str, Any]:
    corpus = enriched_corpus(rows, pipeline, stories, progress)
    entity = commonest_entity(corpus)
    searches = [Search(s.name, s.query, SearchFilters(entities=(entity,)), s.page) if s.name == "commonest entity"
                else s for s in SEARCHES]
    nodes = len(es.nodes.info()["nodes"])
    now = datetime.now(timezone.utc)
    reports = []
    for number, stored in enumerate(sizes):
        name = f"{INDEX_PREFIX}-{uuid.uuid4().hex[:8]}"
        progress(f"{name}: loading {stored:,} copies of {len(corpus)} enriched articles")
        try:
            index_s, indexed = bulk_load(es, name, ARTICLES_SPEC, stored_copies(corpus, stored, now), stored,
                                         None, progress, replicas)
            es.cluster.health(index=name, wait_for_status="green" if replicas else "yellow", timeout="600s")
            size_mb, segments = index_stats(es, name)
            settings = es.indices.get_settings(index=name)[name]["settings"]["index"]
            report = SizeReport(indexed, int(settings["number_of_replicas"]), nodes, round(index_s, 1),
                                round(indexed / index_s), round(size_mb, 1), segments)
            for search in searches:
                progress(f"  {search.name}: {repeats} searches")
                report.searches[search.name] = time_search(es, name, search, pipeline.languages, kb, repeats)
            for query in ALERT_QUERIES:
                progress(f"  alerts test {query!r}")
                report.alerts.append(time_alert_test(es, name, query, pipeline.languages, full_scan=number == 0))
            reports.append(report)
        finally:
            es.options(ignore_status=404).indices.delete(index=name)
            es.options(ignore_status=404).indices.delete_index_template(name=f"{name}-template")
    return {"corpus_articles": len(corpus), "entity": entity, "repeats": repeats,
            "sizes": [asdict(report) for report in reports]}


def render_search_scale(result: dict[str, Any]) -> str:
    lines = [f"{result['corpus_articles']} enriched articles copied; each search {result['repeats']} times "
             f"after {WARM_UP} warm-ups; ms: wall p50/p99 (Elasticsearch's took p50/p99)"]
    for size in result["sizes"]:
        lines += ["", f"{size['stored']:,} stored, {size['nodes']} node(s), {size['replicas']} replica(s): "
                      f"loaded in {size['index_s']:.0f} s ({size['docs_per_s']:,}/s), {size['size_mb']:,.0f} MB on disk, "
                      f"{size['segments']} segments",
                  "search | hits | wall p50 | wall p99 | took p50 | took p99", "--- | --- | --- | --- | --- | ---"]
        for name, timing in size["searches"].items():
            lines.append(f"{name} | {timing['total']:,} | {timing['wall_ms_p50']} | {timing['wall_ms_p99']} | "
                         f"{timing['took_ms_p50']} | {timing['took_ms_p99']}")
        lines += ["", "alerts test | matches | articles read | s | full scan s"]
        for alert in size["alerts"]:
            full = f"{alert['full_scan_seconds']}" if alert["full_scan_seconds"] is not None else "–"
            lines.append(f"{alert['query']} | {alert['matches']:,} | {alert['read']:,} | {alert['seconds']} | {full}")
    return "\n".join(lines)
