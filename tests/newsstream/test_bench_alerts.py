"""The alert benchmark on small counts: the documented shape, numbers that make sense, the rules it writes."""
import re

import pytest

from newsstream.measure.bench_alerts import generate_rules, render_alert_bench
from newsstream.settings import Settings
from processors.config import DEFAULT_LANGUAGES
from processors.alerts import compile_query

KEYS = {"median_ms", "p99_ms", "naive_median_ms", "rss_mb", "candidates_median", "articles"}


@pytest.fixture
def samples_only(monkeypatch, tmp_path):  # noqa: ANN001
    import newsstream.measure.bench_alerts as bench_alerts

    monkeypatch.setattr(bench_alerts, "CORPUS_DIR", tmp_path / "no-corpus")
    return bench_alerts


@pytest.fixture(params=["corpus", "samples"])
def rows_from(request):  # noqa: ANN001
    """The benchmark module reading ../shared/corpora/news (skipped when it has no .jsonl file), or the
    shipped samples as it does without the corpus."""
    if request.param == "samples":
        return request.getfixturevalue("samples_only")
    import newsstream.measure.bench_alerts as bench_alerts

    if not any(bench_alerts.CORPUS_DIR.glob("*.jsonl")):
        pytest.skip(f"{bench_alerts.CORPUS_DIR} has no corpus")
    return bench_alerts


def test_bench_reports_each_rule_count(rows_from):
    result = rows_from.run_alert_bench(Settings(), rule_counts=(200, 50), articles=6, seed=3)
    assert list(result) == ["50", "200"]
    for count, row in result.items():
        assert KEYS <= set(row)
        assert row["articles"] == 6
        assert 0 < row["median_ms"] <= row["p99_ms"]
        assert row["naive_median_ms"] > 0 and row["rss_mb"] > 0
        assert 0 <= row["candidates_median"] <= int(count)
    table = render_alert_bench(result)
    assert re.search(r"^50 \|", table, re.MULTILINE) and re.search(r"^200 \|", table, re.MULTILINE)


def test_generated_rules_are_valid_varied_and_reproducible(rows_from):
    rows = rows_from.load_corpus_rows()
    rules = generate_rules(300, rows, entities=["Acme"], seed=5)
    assert [rule.query for rule in rules] == [rule.query for rule in generate_rules(300, rows, ["Acme"], seed=5)]
    assert len({rule.name for rule in rules}) == 300
    for rule in rules:
        compile_query(rule.query, [rule.lang] if rule.lang else DEFAULT_LANGUAGES)
    queries = [rule.query for rule in rules]
    assert any(query.startswith('"') for query in queries)
    assert any(" OR " in query for query in queries) and any("NOT " in query or " -" in query for query in queries)
    assert any(rule.lang for rule in rules) and any(rule.entity == "Acme" for rule in rules)


def test_without_the_corpus_the_samples_are_the_rows(samples_only):
    rows = samples_only.load_corpus_rows()
    assert len(rows) == len(samples_only.SAMPLES.read_text(encoding="utf-8").splitlines()) >= 10
