"""Loading large measurement indices and reading their size: what the at-scale measurements share.

Each index gets the product's mapping through `ensure_index`; refresh is off while it loads, then
back at the mapping's interval; it is force-merged only when asked.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from elasticsearch import Elasticsearch, helpers

from clients.elasticsearch import ensure_index
from schemas.indices import IndexSpec

BULK_CHUNK = 1_000
PROGRESS_EVERY = 100_000
SLOW_REQUEST_S = 3_600.0  # force-merge and refresh of a large index take minutes


def percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def bulk_load(es: Elasticsearch, name: str, spec: IndexSpec, documents: Iterator[dict[str, Any]], total: int,
              force_merge: int | None, progress: Callable[[str], None], replicas: int | None = None) -> tuple[float, int]:
    """Creates `name` with `spec`'s mapping and indexes `documents` (each with its `id`); the
    seconds it took, refresh (and force-merge) included, and how many were indexed."""
    ensure_index(es, name, spec, replicas)
    es.indices.put_settings(index=name, settings={"index": {"refresh_interval": "-1"}})
    started, indexed = time.perf_counter(), 0

    def action(document: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        # orjson: the client's json.dumps costs Python a third of its time here, on cores shared with Elasticsearch.
        return {"index": {"_index": name, "_id": document["id"]}}, orjson.dumps(document)

    for ok, item in helpers.parallel_bulk(es, documents, thread_count=2, chunk_size=BULK_CHUNK, queue_size=4,
                                          expand_action_callback=action):
        if not ok:
            raise RuntimeError(f"measurement document not stored: {item}")
        indexed += 1
        if indexed % PROGRESS_EVERY == 0:
            elapsed = time.perf_counter() - started
            progress(f"  {name}: {indexed:,}/{total:,} indexed, {elapsed:.0f} s, {indexed / elapsed:,.0f} docs/s")
    slow = es.options(request_timeout=SLOW_REQUEST_S)
    slow.indices.put_settings(index=name, settings={"index": {"refresh_interval": spec.body()["settings"]["refresh_interval"]}})
    slow.indices.refresh(index=name)
    if force_merge is not None:
        progress(f"  {name}: force-merging to {force_merge} segment(s)")
        slow.indices.forcemerge(index=name, max_num_segments=force_merge)
        slow.indices.refresh(index=name)
    return time.perf_counter() - started, indexed


def index_stats(es: Elasticsearch, name: str) -> tuple[float, int]:
    """The index's size on disk (MB, replicas included) and its number of segments."""
    es.indices.flush(index=name)  # so the size is of segments, not of a translog still to write
    row = es.cat.indices(index=name, format="json", bytes="b")[0]
    segments = es.cat.segments(index=name, format="json")
    return int(row["store.size"]) / 1e6, len(segments)
