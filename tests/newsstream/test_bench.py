"""The end-to-end benchmark on 20 articles against the real stack: it runs, cleans up after itself
and reports the documented keys with positive rates (no timings are asserted)."""
import pytest

from newsstream.measure.bench import ServiceVariant, render_bench, run_bench
from newsstream.measure.lanes import run_prefix

pytestmark = pytest.mark.integration


def test_bench_reports_each_system(stack, es_client):  # noqa: ANN001
    result = run_bench(stack, articles=20, variants=(ServiceVariant(workers=1, nlp_processes=1),), latency_s=2)
    for system in ("baseline_inprocess", "baseline_naive", "service"):
        assert result[system]["articles_per_s"] > 0 and result[system]["words_per_s"] > 0, system
    assert result["service"]["articles"] == result["baseline_naive"]["articles"] == 20
    assert result["ratio_vs_inprocess"] > 0 and result["ratio_vs_naive"] > 0
    assert set(result["latency_ms"]) == {"p50", "p95", "p99"}
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert result["service"]["peak_rss_mb"]["main"] and result["service"]["peak_rss_mb"]["pool"]
    assert "service 1 worker × 1 NLP process (service)" in render_bench(result)
    assert not es_client.indices.get(index=f"{run_prefix(result['run'])}*", expand_wildcards="all")  # deleted
