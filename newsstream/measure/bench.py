"""End-to-end benchmark: the whole service (Kafka, Faust, NLP, Elasticsearch) against the in-process
limit, spaCy's default pipelines run with `nlp.pipe` over the same bodies, and against a naive
consumer that takes one article at a time.

Rates are end to end: from the first article produced to the last one searchable, so they include
Elasticsearch's refresh (1 s) at the end. Latency is from the produce call to the first search that
finds the article (polled every POLL_INTERVAL_S, so up to that much late). Words are body words.

The poll is a count; only when it grows (a refresh made documents visible, about once a second) are
the pending ids searched for, so that watching costs Elasticsearch little of the machine under test.
"""
from __future__ import annotations

import itertools
import json
import math
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from clients.elasticsearch import make_client
from deploy.console import say
from newsstream.measure.lanes import (
    Lane,
    Running,
    cpu_snapshot,
    cpu_used,
    naive_consumer,
    open_lane,
    peak_rss_by_role,
    peak_rss_mb,
    remove_run,
    service_workers,
)
from newsstream.settings import PROJECT_ROOT, Settings
from schemas import RawArticle

SAMPLES = PROJECT_ROOT / "samples" / "articles.jsonl"
POLL_INTERVAL_S = 0.1
IDS_PER_SEARCH = 5_000
# Given up when nothing more became searchable for this long after the last article was produced.
STALL_TIMEOUT_S = 60.0
# The warm-up loads a model per language in each NLP process (the naive consumer has no readiness
# signal to wait on first): on a loaded machine its first article takes more than a minute.
WARM_UP_STALL_TIMEOUT_S = 240.0
READY_TIMEOUT_S = 180.0
# Warm-up: this many copies of one article per language, so that every worker, partition and
# NLP process has loaded every model before the clock starts.
WARM_UP_COPIES = 8
TARGET_RATIO = 1.2
TARGET_P99_MS = 2_000


@dataclass(frozen=True)
class ServiceVariant:
    workers: int
    nlp_processes: int

    @property
    def label(self) -> str:
        return (f"service {self.workers} worker{'s' * (self.workers > 1)} × "
                f"{self.nlp_processes} NLP process{'es' * (self.nlp_processes > 1)}")


def default_variants() -> tuple[ServiceVariant, ...]:
    cores = os.cpu_count() or 1
    return tuple(dict.fromkeys((ServiceVariant(1, 1), ServiceVariant(1, cores), ServiceVariant(cores, 1))))


# --- Articles ---------------------------------------------------------------------------------


def load_rows(corpora: Sequence[Path] = ()) -> list[dict[str, Any]]:
    """JSON Lines rows (title, body, and id, url, source, lang, … when present) of each corpus,
    interleaved (one of each in turn) so that any prefix mixes them; the samples by default."""
    files = [[json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
             for path in (corpora or [SAMPLES])]
    return [row for group in itertools.zip_longest(*files) for row in group if row is not None]


def row_languages(rows: Sequence[dict[str, Any]]) -> list[str]:
    from processors.language import detect_language

    return [row.get("lang") or detect_language(row["body"]).code for row in rows]


def copy_of(row: dict[str, Any], copy: str) -> RawArticle:
    """The row as an article of its own: a unique id, and a unique url when it has one."""
    url = row.get("url")
    return RawArticle(
        id=f"{row['id']}.{copy}" if row.get("id") else "",  # empty: derived from the url
        url=f"{url}{'&' if '?' in url else '?'}copy={copy}" if url else None,
        source=row.get("source"),
        title=row.get("title", ""),
        body=row["body"],
        published_at=row.get("published_at"),
        metadata=row.get("metadata") or {},
    )


def copies(rows: Sequence[dict[str, Any]], count: int, tag: str) -> list[RawArticle]:
    """`count` articles cycling through the rows; `tag` keeps these ids apart from other runs' copies."""
    return [copy_of(rows[n % len(rows)], f"{tag}{n // len(rows)}") for n in range(count)]


def warm_up_articles(rows: Sequence[dict[str, Any]], languages: Sequence[str]) -> list[RawArticle]:
    firsts = list({language: row for row, language in reversed(list(zip(rows, languages)))}.values())
    # Languages interleaved, so that any slice of a batch given to one NLP process holds them all.
    return [copy_of(row, f"warm{n}") for n in range(WARM_UP_COPIES) for row in firsts]


def body_words(article: RawArticle) -> int:
    return len(article.body.split())


# --- Measures ---------------------------------------------------------------------------------


def latency_percentiles(latencies_ms: Sequence[float]) -> dict[str, int] | None:
    if not latencies_ms:
        return None
    cuts = statistics.quantiles(latencies_ms, n=100, method="inclusive") if len(latencies_ms) > 1 else None
    return {name: round(cuts[q - 1] if cuts else latencies_ms[0]) for name, q in (("p50", 50), ("p95", 95), ("p99", 99))}


def summary(articles: int, words: int, seconds: float, latencies_ms: Sequence[float] = (),
            peak_rss_mb: Mapping[str, list[float]] | None = None) -> dict[str, Any]:
    return {
        "articles": articles,
        "seconds": round(seconds, 2),
        "articles_per_s": round(articles / seconds, 1),
        "words_per_s": round(words / seconds),
        "latency_ms": latency_percentiles(latencies_ms),
        "peak_rss_mb": dict(peak_rss_mb or {}),
    }


def inprocess_pipe(texts_by_model: dict[str, list[str]]) -> tuple[float, float]:
    """Seconds to run each model's full default pipeline over its texts, and this process's peak RSS."""
    import spacy

    pipelines = {name: spacy.load(name) for name in texts_by_model}
    for nlp in pipelines.values():
        list(nlp.pipe(["Warm-up: the first call allocates."]))
    started = time.perf_counter()
    for name, texts in texts_by_model.items():
        for _ in pipelines[name].pipe(texts):
            pass
    return time.perf_counter() - started, peak_rss_mb(os.getpid())


def run_inprocess_baseline(articles: Sequence[RawArticle], languages: Sequence[str],
                           models: Mapping[str, str]) -> dict[str, Any]:
    """In a fresh process (its memory is its own), the model of each article's language, English
    for languages without one."""
    texts_by_model: dict[str, list[str]] = {}
    for article, language in zip(articles, languages):
        texts_by_model.setdefault(models.get(language, models["en"]), []).append(article.body)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as executor:
        seconds, peak = executor.submit(inprocess_pipe, texts_by_model).result()
    without_model = sorted({language for language in languages if language not in models})
    result = summary(len(articles), sum(map(body_words, articles)), seconds, peak_rss_mb={"main": [peak]})
    result["note"] = (f"{', '.join(without_model)}: no model, run through {models['en']} "
                      f"({sum(language not in models for language in languages)} articles)") if without_model else ""
    return result


@dataclass
class Timings:
    produced: dict[str, float]  # id -> monotonic time of the produce call
    searchable: dict[str, float]  # id -> monotonic time of the first search that found it

    @property
    def seconds(self) -> float:
        return max(self.searchable.values()) - min(self.produced.values())

    @property
    def latencies_ms(self) -> list[float]:
        return [(found - self.produced[article_id]) * 1000 for article_id, found in self.searchable.items()]


def _paced(articles: Iterable[RawArticle], rate: float | None, produced: dict[str, float],
           lock: threading.Lock) -> Iterator[RawArticle]:
    started = time.monotonic()
    for n, article in enumerate(articles):
        if rate:
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
        with lock:
            produced[article.id] = time.monotonic()
        yield article


def _found_ids(es: Elasticsearch, index: str, pending: Sequence[str]) -> list[str]:
    found = []
    for start in range(0, len(pending), IDS_PER_SEARCH):
        chunk = pending[start:start + IDS_PER_SEARCH]
        response = es.search(index=index, query={"ids": {"values": chunk}}, size=len(chunk), source=False,
                             track_total_hits=False, filter_path="hits.hits._id")
        found += [hit["_id"] for hit in response.get("hits", {}).get("hits", [])]
    return found


class BenchError(RuntimeError):
    """A system under benchmark stopped or did not come up; the message says where its log is."""


def produce_and_watch(lane: Lane, es: Elasticsearch, running: Running, articles: Sequence[RawArticle],
                      rate: float | None = None, progress: Callable[[str], None] = say,
                      stall_timeout_s: float = STALL_TIMEOUT_S) -> Timings:
    """Produces the articles (all at once, or at `rate` per second) while polling Elasticsearch for them;
    gives up when none more became searchable for `stall_timeout_s`."""
    from clients.kafka import make_producer
    from ingest.producer import produce_articles

    settings = lane.settings
    produced: dict[str, float] = {}
    lock = threading.Lock()
    failures: list[BaseException] = []
    producer = make_producer(settings.kafka)
    producer.partitions_for(settings.topic_raw)  # metadata fetched before the clock starts

    def produce() -> None:
        try:
            produce_articles(producer, settings.topic_raw, _paced(articles, rate, produced, lock))
        except BaseException as error:  # noqa: BLE001 - re-raised in the watching thread
            failures.append(error)

    thread = threading.Thread(target=produce, name="bench-producer", daemon=True)
    thread.start()
    timings = Timings(produced, {})
    last_change = last_report = time.monotonic()
    visible = -1
    try:
        while True:
            polled_at = time.monotonic()
            producing = thread.is_alive()
            with lock:
                pending = [article_id for article_id in produced if article_id not in timings.searchable]
            count = es.count(index=settings.index_articles)["count"]
            found = _found_ids(es, settings.index_articles, pending) if count > visible and pending else []
            visible = count
            timings.searchable.update(dict.fromkeys(found, polled_at))
            if failures:
                raise failures[0]
            if not running.alive():
                raise BenchError(f"{lane.name}: a process of the system exited; log: {lane.log}")
            if not producing and len(timings.searchable) == len(articles):
                return timings
            if producing or found:
                last_change = polled_at
            if polled_at - last_change > stall_timeout_s:
                progress(f"  gave up: {len(timings.searchable)}/{len(articles)} searchable, "
                         f"none more for {stall_timeout_s:.0f} s (log: {lane.log})")
                return timings
            if polled_at - last_report > 5:
                progress(f"  {len(timings.searchable)}/{len(articles)} searchable")
                last_report = polled_at
            time.sleep(max(0.0, polled_at + POLL_INTERVAL_S - time.monotonic()))
    finally:
        thread.join()
        producer.close()


def wait_until_ready(lane: Lane, running: Running, poll_s: float = 0.5) -> None:
    """Before the warm-up: a worker that joins its group after it gets partitions it never warmed
    up on, and loads its models during the measured burst (seconds of stall per language)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not running.ready():
        if not running.alive():
            raise BenchError(f"{lane.name}: a process of the system exited; log: {lane.log}")
        if time.monotonic() > deadline:
            raise BenchError(f"{lane.name}: not consuming every partition after {READY_TIMEOUT_S:.0f} s; log: {lane.log}")
        time.sleep(poll_s)


def measure_system(lane: Lane, es: Elasticsearch, system: AbstractContextManager[Running],
                   warm_up: Sequence[RawArticle], articles: Sequence[RawArticle], half_rate_s: float = 0.0,
                   rows: Sequence[dict[str, Any]] = (), progress: Callable[[str], None] = say) -> dict[str, Any]:
    """Starts the system, warms it up, then measures a burst of `articles` and, when `half_rate_s`
    is given, `half_rate`: copies of `rows` produced at half the burst's rate for that long."""
    with system as running:
        progress(f"{lane.name}: starting and warming up on {len(warm_up)} articles")
        wait_until_ready(lane, running)
        warm = produce_and_watch(lane, es, running, warm_up, progress=progress, stall_timeout_s=WARM_UP_STALL_TIMEOUT_S)
        if len(warm.searchable) < len(warm_up):
            raise BenchError(f"{lane.name}: warm-up articles not indexed; log: {lane.log}")
        progress(f"{lane.name}: {len(articles)} articles at once")
        cpu_before = cpu_snapshot(running.pids)
        burst = produce_and_watch(lane, es, running, articles, progress=progress)
        cpu = cpu_used(cpu_before, cpu_snapshot(running.pids))
        if not burst.searchable:
            raise BenchError(f"{lane.name}: no article became searchable; log: {lane.log}")
        words = sum(body_words(article) for article in articles if article.id in burst.searchable)
        result = summary(len(burst.searchable), words, burst.seconds, burst.latencies_ms)
        result["missing"] = len(articles) - len(burst.searchable)
        result["cpu_s"] = cpu  # during the burst, per process, by role
        if half_rate_s:
            rate = result["articles_per_s"] / 2
            paced = copies(rows, max(1, math.ceil(rate * half_rate_s)), "p")
            progress(f"{lane.name}: {len(paced)} articles at {rate:.1f}/s (half its rate)")
            half = produce_and_watch(lane, es, running, paced, rate=rate, progress=progress)
            result["half_rate"] = {"articles_per_s": round(rate, 1), "articles": len(paced),
                                   "missing": len(paced) - len(half.searchable),
                                   "latency_ms": latency_percentiles(half.latencies_ms)}
        result["peak_rss_mb"] = peak_rss_by_role(running.pids)
    progress(f"{lane.name}: {result['articles_per_s']} articles/s")
    return result


def _ratio(numerator: dict[str, Any], denominator: dict[str, Any]) -> float:
    return round(numerator["articles_per_s"] / denominator["articles_per_s"], 2)


def run_bench(
    settings: Settings,
    articles: int = 2000,
    corpora: Sequence[Path] = (),
    *,
    variants: Sequence[ServiceVariant] | None = None,
    latency_s: float = 25.0,
    service_settings: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] = say,
) -> dict[str, Any]:
    """Measures the in-process baseline, the naive consumer and each service variant (default: one
    worker with one NLP process, one with one per core, one worker per core), side by side; the
    fastest variant is `service`, and its run at half its rate for `latency_s` gives `latency_ms`.
    `service_settings` are further settings for the service's workers (e.g. batch_size)."""
    rows = load_rows(corpora)
    languages = row_languages(rows)
    measured = copies(rows, articles, "c")
    progress(f"in-process baseline: {articles} bodies through spaCy's default pipelines")
    inprocess = run_inprocess_baseline(measured, [languages[n % len(rows)] for n in range(articles)],
                                       settings.spacy_model_map)
    progress(f"in-process baseline: {inprocess['articles_per_s']} articles/s")
    warm_up = warm_up_articles(rows, languages)
    run = uuid.uuid4().hex[:8]
    log_dir = Path(tempfile.mkdtemp(prefix=f"newsstream-bench-{run}-"))
    es = make_client(settings.elasticsearch)
    try:
        lane = open_lane(run, "naive", es, log_dir)
        naive = measure_system(lane, es, naive_consumer(lane), warm_up, measured, progress=progress)
        services: dict[str, dict[str, Any]] = {}
        for variant in variants or default_variants():
            lane = open_lane(run, f"w{variant.workers}n{variant.nlp_processes}", es, log_dir,
                             nlp_processes=variant.nlp_processes, **(service_settings or {}))
            services[variant.label] = measure_system(lane, es, service_workers(lane, variant.workers), warm_up,
                                                     measured, latency_s, rows, progress)
    finally:
        remove_run(run, settings, es)
        es.close()
    best = max(services, key=lambda label: services[label]["articles_per_s"])
    service = {"variant": best, **services[best]}
    return {
        "articles": articles,
        "words": sum(map(body_words, measured)),
        "corpus": " + ".join(map(str, corpora)) if corpora else f"samples ({len(rows)} articles, repeated)",
        "cores": os.cpu_count(),
        "baseline_inprocess": inprocess,
        "baseline_naive": naive,
        "service_variants": services,
        "service": service,
        "ratio_vs_inprocess": _ratio(service, inprocess),
        "ratio_vs_naive": _ratio(service, naive),
        "latency_ms": service["half_rate"]["latency_ms"],
        "half_rate": service["half_rate"],
        "run": run,  # its topics and indices are named lanes.run_prefix(run) + …
        "logs": str(log_dir),
    }


def _memory(peaks: Mapping[str, list[float]]) -> str:
    return "; ".join(f"{role} {', '.join(f'{mb:.0f}' for mb in values)}" for role, values in peaks.items()
                     if role != "tracker")


def _latency(latency: Mapping[str, float] | None) -> list[str]:
    return [str(latency[name]) if latency else "–" for name in ("p50", "p95", "p99")]


def render_bench(result: dict[str, Any]) -> str:
    inprocess = result["baseline_inprocess"]
    systems = {"in-process spaCy, default pipelines": inprocess,
               "naive consumer, one article at a time": result["baseline_naive"],
               **result["service_variants"]}
    header = ("system", "articles/s", "words/s", "× in-process", "p50 ms", "p95 ms", "p99 ms",
              "p99 ms at ½ rate", "peak RSS MB")
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    for name, row in systems.items():
        best = " (service)" if name == result["service"]["variant"] else ""
        missing = f" ({row['missing']} not searchable)" if row.get("missing") else ""
        half_rate = _latency(row["half_rate"]["latency_ms"])[2] if "half_rate" in row else "–"
        lines.append(" | ".join([name + best + missing, str(row["articles_per_s"]), str(row["words_per_s"]),
                                 f"{_ratio(row, inprocess):.2f}", *_latency(row["latency_ms"]), half_rate,
                                 _memory(row["peak_rss_mb"])]))
    half, latency = result["half_rate"], result["latency_ms"]
    p50, p95, p99 = _latency(latency)
    lines += [
        "",
        f"service / in-process: {result['ratio_vs_inprocess']:.2f}× (target ≥ {TARGET_RATIO}×: "
        f"{'met' if result['ratio_vs_inprocess'] >= TARGET_RATIO else 'missed'}); "
        f"service / naive: {result['ratio_vs_naive']:.2f}×",
        f"latency at half rate ({half['articles_per_s']} articles/s, {half['articles']} articles): "
        f"p50 {p50} / p95 {p95} / p99 {p99} ms (target p99 ≤ {TARGET_P99_MS} ms: "
        f"{'met' if latency and latency['p99'] <= TARGET_P99_MS else 'missed'})"
        + (f", {half['missing']} not searchable" if half["missing"] else ""),
        f"{result['articles']} articles, {result['words']} body words, from {result['corpus']}; "
        f"{result['cores']} cores; bursts timed from first produce to last searchable (refresh 1 s included)",
    ]
    if inprocess.get("note"):
        lines.append(f"in-process baseline: {inprocess['note']}")
    lines += ["", "CPU during the burst, core-seconds per process (share of the burst's wall time):"]
    for name, row in systems.items():
        if "cpu_s" in row:
            lines.append(f"  {name}: {_cpu(row['cpu_s'], row['seconds'])}")
    return "\n".join(lines)


def _cpu(cpu_s: Mapping[str, list[float]], seconds: float) -> str:
    return "; ".join(f"{role} " + ", ".join(f"{used:.1f} ({used / seconds:.0%})" for used in values)
                     for role, values in cpu_s.items() if values)
