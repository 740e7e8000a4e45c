"""`newsstream measure story-lookup` at a tiny size on the real Elasticsearch: every figure is
there and sane, and the bench indices are gone afterwards; and the synthetic signatures are
shaped as the story stage's."""
from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from newsstream.measure.story_lookup import (
    INDEX_PREFIX, LOOKUP_VARIANTS, PRODUCT, LookupFigures, _generate, render_story_lookup, run_story_lookup,
)
from processors.config import StoryConfig
from schemas.stories import StorySignature


def test_the_synthetic_signatures_are_shaped_as_the_stages() -> None:
    config = StoryConfig()
    documents, timed = _generate(3_000, config, seed=1, batches=3, batch_size=8)
    stored = [StorySignature.model_validate(document) for document in documents]
    assert len(stored) == 3_000 and [len(batch) for batch in timed] == [8, 8, 8]
    assert all(len(s.terms) == len(s.weights) == config.story_terms and len(set(s.terms)) == config.story_terms
               for s in stored)
    assert all(len(s.bands) == config.minhash_permutations // config.band_rows for s in stored)
    assert all(abs(sum(w * w for w in s.weights) - 1) < 1e-3 for s in stored)
    assert stored == sorted(stored, key=lambda s: s.published)
    by_id = {s.id: s for s in stored}
    copies = [s for s in stored if s.duplicate_of]
    assert 0.02 < len(copies) / len(stored) < 0.1
    assert all(set(s.bands) & set(by_id[s.duplicate_of].bands) for s in copies)  # type: ignore[index]
    assert all(by_id[s.story_id].published <= s.published for s in stored)  # type: ignore[index]
    commonest = Counter(term for s in stored for term in s.terms).most_common(1)[0][1] / len(stored)
    assert 0.2 < commonest < 0.6  # a common word, not a stop word
    first, last = stored[0].published, stored[-1].published
    assert all(first + config.window <= a.published <= last and not a.story_id for batch in timed for a in batch)


@pytest.mark.integration
def test_the_lookup_is_timed_on_a_large_and_a_baseline_index_then_both_are_dropped(stack, es_client) -> None:  # noqa: ANN001
    progress: list[str] = []
    report = run_story_lookup(stack.elasticsearch, stack.stories, stored=2_000, baseline_stored=500, batches=4,
                              batch_size=16, progress=progress.append)
    assert json.loads(json.dumps(report.as_dict())) == report.as_dict()
    assert report.batches == 4 and report.batch_size == 16 and report.candidates == stack.stories.candidates
    for figures, stored in ((report.large, 2_000), (report.baseline, 500)):
        assert isinstance(figures, LookupFigures) and figures.stored == stored
        assert figures.index.startswith(f"{INDEX_PREFIX}-{os.getpid()}")
        assert figures.index_s > 0 and figures.docs_per_s > 0 and figures.size_mb > 0 and figures.segments >= 1
        assert 0 < figures.in_window < stored and 0 < figures.matched <= figures.in_window
        assert list(figures.timings) == list(LOOKUP_VARIANTS) and next(iter(figures.timings)) == PRODUCT
        for timing in figures.timings.values():
            assert 0 < timing.candidates_mean <= stack.stories.candidates
            assert 0 < timing.batch_ms_median <= timing.batch_ms_p99
            assert timing.article_ms_median == pytest.approx(timing.batch_ms_median / 16, abs=1e-3)
            assert timing.article_ms_median <= timing.article_ms_p99
            assert 0 <= timing.took_ms_median < timing.article_ms_median
            assert timing.transport_ms_median > 0 and timing.parse_ms_median > 0 and timing.mget_ms_median > 0
        # More term clauses find at least as many candidates.
        assert figures.timings["before: 40 terms, hits counted"].candidates_mean >= figures.timings[PRODUCT].candidates_mean
    product = report.large.timings[PRODUCT]
    assert report.ratio > 0 and report.meets_target == (product.article_ms_median <= report.target_ms)
    text = render_story_lookup(report)
    assert "ms per article, median" in text and "ES took" in text and "large / baseline" in text and "2,000" in text
    assert all(variant in text for variant in LOOKUP_VARIANTS)
    assert any("generating and indexing" in line for line in progress)
    pattern = f"{INDEX_PREFIX}-{os.getpid()}*"
    assert es_client.indices.get(index=pattern) == {}
    templates = es_client.options(ignore_status=404).indices.get_index_template(name=pattern)
    assert not templates.get("index_templates")
