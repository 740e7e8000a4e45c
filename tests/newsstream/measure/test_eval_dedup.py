"""`newsstream measure eval-dedup` on the samples the project ships: the truth, the edits, the
candidates as the stage's own store finds them, the scores; and on the BBC corpus when present."""
from __future__ import annotations

import itertools
import json
import random
import re
from typing import Any

import pytest
from typer.testing import CliRunner

from newsstream.cli.main import app
from newsstream.measure.dedup import (
    DEFAULT_THRESHOLDS,
    EDIT_KINDS,
    PARTIAL_CONTAINMENT,
    PARTIAL_JACCARD,
    PARTIAL_MIN_SHINGLES,
    _article,
    _copy,
    _rows_to_items,
    decide,
    evaluate_dedup,
    exact_hash_dedup,
    load_news_rows,
    numbers_changed,
    paragraphs,
    render_dedup,
    retrieve,
    similar_pairs,
    trimmed,
    with_boilerplate,
)
from newsstream.settings import PROJECT_ROOT
from processors.config import StoryConfig
from processors.stories import InMemoryStories, shingles, signature

SAMPLES = PROJECT_ROOT / "samples"
BBC = PROJECT_ROOT.parent / "shared" / "corpora" / "news" / "en_bbc.jsonl"
CONFIG = StoryConfig()
TIMINGS = ("signature_ms_per_article", "decision_ms_per_article", "total_s")


def _sample_rows() -> list[dict[str, Any]]:
    return [row for name in ("articles.jsonl", "articles-wire-copies.jsonl", "articles-multilingual.jsonl")
            for row in load_news_rows(SAMPLES / name)]


def _body(rows: list[dict[str, Any]], identifier: str) -> str:
    return next(row["body"] for row in rows if row.get("id", row.get("url")) == identifier)


def test_trim_keeps_a_prefix_of_60_to_90_percent_of_the_words() -> None:
    rng = random.Random(1)
    for row in _sample_rows():
        cut = trimmed(row["body"], rng)
        if cut is None:
            continue
        words, kept = len(re.findall(r"\w+", row["body"])), len(re.findall(r"\w+", cut))
        assert row["body"].startswith(cut) and 0.6 * words <= kept < words


def test_numbers_boilerplate_and_the_edits_are_what_they_say() -> None:
    rng = random.Random(2)
    body = _body(_sample_rows(), "wire-sanctions-herald")
    changed = numbers_changed("In 2024, 37 tankers and 600 ships; 14 firms.", rng)
    assert changed is not None and changed != "In 2024, 37 tankers and 600 ships; 14 firms."
    assert re.sub(r"\d+", "#", changed) == "In #, # tankers and # ships; # firms."
    assert numbers_changed("No numbers here but 1 and 2.", rng) is None
    padded = with_boilerplate(body, rng, "Another story")
    assert body in padded and len(paragraphs(padded)) > len(paragraphs(body))
    items, _ = _rows_to_items(_sample_rows())
    original = next(item for item in items if item.id.endswith("geneve-conference-eau"))  # 5 paragraphs, 3 numbers
    titles = [item.title for item in items]
    copies = {kind: _copy(original, kind, random.Random(3), titles) for kind in EDIT_KINDS}
    assert all(copy is not None and copy.group == original.group for copy in copies.values())
    headline, combined = copies["headline"], copies["combined"]
    assert headline is not None and headline.body == original.body and headline.title != original.title
    assert combined is not None and combined.title != original.title and combined.body != original.body
    assert len({copy.body for copy in copies.values() if copy is not None}) == len(EDIT_KINDS)


def test_similar_pairs_finds_exactly_what_comparing_every_pair_finds() -> None:
    rows = _sample_rows()
    items, _ = _rows_to_items(rows)
    rng = random.Random(4)
    titles = [item.title for item in items]
    texts = [item.body for item in items] + [
        copy.body for item in items for kind in ("trim", "boilerplate", "numbers")
        if (copy := _copy(item, kind, rng, titles)) is not None]
    sets = [set(shingles(text, CONFIG.shingle_words)) for text in texts]
    expected = {}
    for a, b in itertools.combinations(range(len(sets)), 2):
        shared = len(sets[a] & sets[b])
        jaccard, smaller = shared / len(sets[a] | sets[b]), min(len(sets[a]), len(sets[b]))
        if jaccard >= PARTIAL_JACCARD or (shared / smaller >= PARTIAL_CONTAINMENT and smaller >= PARTIAL_MIN_SHINGLES):
            expected[(a, b)] = round(jaccard, 4)
    found = similar_pairs(sets)
    assert {pair: jaccard for pair, (jaccard, _) in found.items()} == expected and len(expected) > 10


def test_candidates_and_decisions_are_the_in_memory_stores() -> None:
    items, _ = _rows_to_items(_sample_rows())
    rng = random.Random(5)
    titles = [item.title for item in items]
    stream = items + [copy for item in items for kind in EDIT_KINDS
                      if (copy := _copy(item, kind, rng, titles)) is not None]
    rng.shuffle(stream)
    articles = [_article(item, arrival) for arrival, item in enumerate(stream)]
    store, theirs = InMemoryStories(CONFIG), []
    for start in range(0, len(articles), 8):  # small batches: most candidates come from the store
        theirs += [article.duplicate_of for article in store.assign(articles[start:start + 8])]
    signatures = [signature(article, CONFIG) for article in articles]
    ours = decide(signatures, retrieve(signatures, CONFIG, batch_size=8), CONFIG, batch_size=8)
    assert ours == theirs and sum(target is not None for target in ours) > 20


def test_real_copies_are_the_same_normalised_body_or_near_identical_shingles() -> None:
    rows = _sample_rows()
    long = _body(rows, "https://example.org/fr/geneve-conference-eau")
    words = long.split(" ")
    rows = [
        {"id": "a", "title": "A", "body": _body(rows, "https://example.org/world/2024/03/eu-sanctions-shipping")},
        {"id": "b", "title": "B", "body": long},
        {"id": "c", "title": "C", "body": _body(rows, "sample-multi-de")},
        {"id": "a-again", "title": "A", "body": "  " + rows[0]["body"].upper().replace(" ", "\n ")},
        {"id": "b-edited", "title": "B", "body": " ".join([*words[:40], "Montag", *words[41:]])},
        {"id": "b-short", "title": "B", "body": "\n\n".join(paragraphs(long)[:3])},  # Jaccard 0.8
    ]
    report = evaluate_dedup(rows, CONFIG, copies_per_kind=0, briefs=0, thresholds=())
    assert (report.real_groups, report.real_copies, report.near_identical_pairs) == (2, 2, 1)
    # The shortened version is in neither group but shares most of b: a partial copy.
    assert report.partial_pairs == 2 and report.stage.expected == 2
    assert report.stage.correct == 2 and report.stage.partial == report.stage.false_positives
    assert report.baseline.correct == 1 and report.baseline.false_positives == 0
    assert exact_hash_dedup([rows[0]["body"], rows[3]["body"], rows[1]["body"]]) == [None, 0, None]


def test_the_evaluation_on_the_samples_scores_every_kind_and_sweeps_the_thresholds() -> None:
    rows = _sample_rows()
    report = evaluate_dedup(rows, CONFIG, copies_per_kind=5, corpus="samples", progress=lambda message: None)
    assert report.originals + sum(report.synthetic.values()) + report.controls[1].articles == report.articles
    assert report.synthetic == dict.fromkeys(EDIT_KINDS, 5) and report.controls[1].articles == 2
    # The shipped wire copies (a dateline and a line of boilerplate; trimmed with numbers changed) are
    # below the near-identity rule: found, and counted as partial copies, not as errors of another kind.
    assert report.partial_pairs >= 2 and report.stage.precision_excusing_partial == 1.0
    kinds = {kind.kind: kind.as_dict() for kind in report.kinds}
    assert kinds["real"]["stage_recall"] is None
    assert kinds["boilerplate"]["stage_recall"] == 1.0 and kinds["trim"]["stage_recall"] == 1.0
    assert kinds["headline"]["baseline_recall"] == 1.0
    assert all(kinds[kind]["baseline_recall"] == 0.0 for kind in ("boilerplate", "trim", "numbers", "combined"))
    assert report.stage.recall >= 0.8 and report.baseline.precision == 1.0 and report.baseline.recall == 0.2
    assert report.controls[1].false_positives == 0
    assert [(p.copy_jaccard, p.copy_containment) for p in report.sweep] == list(DEFAULT_THRESHOLDS)
    default = next(p for p in report.sweep if (p.copy_jaccard, p.copy_containment) == (0.6, 0.85))
    assert default.score == report.stage
    # Looser thresholds find at least as much.
    loosest = next(p for p in report.sweep if (p.copy_jaccard, p.copy_containment) == (0.4, 0.75))
    assert loosest.score.correct >= report.stage.correct
    as_dict = json.loads(json.dumps(report.as_dict()))
    assert as_dict["stage"]["recall"] == report.stage.recall and len(as_dict["sweep"]) == 15
    text = render_dedup(report)
    assert "exact hash" in text and "threshold sweep" in text and "recall by kind" in text
    again = evaluate_dedup(rows, CONFIG, copies_per_kind=5, corpus="samples").as_dict()
    assert {k: v for k, v in again.items() if k not in TIMINGS} == {
        k: v for k, v in as_dict.items() if k not in TIMINGS}


@pytest.mark.skipif(not BBC.exists(), reason="../shared/corpora/news/en_bbc.jsonl is not here")
def test_on_the_bbc_corpus_the_stage_finds_the_copies_exact_hashing_misses() -> None:
    report = evaluate_dedup(load_news_rows(BBC), CONFIG, corpus=BBC.name)
    assert report.real_groups > 100 and report.near_identical_pairs > 0
    assert report.stage.recall >= 0.95 and report.stage.precision_excusing_partial >= 0.99
    assert report.stage.precision >= 0.98  # its errors: real updated versions below the near-identity rule
    assert report.baseline.recall < 0.5 and report.kinds[0].stage == report.kinds[0].articles
    assert all(control.false_positives == control.same_category for control in report.controls)
    assert report.controls[1].false_positives == 0


def test_the_command_prints_a_table_or_json_per_corpus_and_fails_clearly_on_a_broken_file(tmp_path) -> None:  # noqa: ANN001
    runner = CliRunner()
    samples = str(SAMPLES / "articles.jsonl")
    result = runner.invoke(app, ["measure", "eval-dedup", samples, "--copies", "2"])
    assert result.exit_code == 0 and "Near-copy detection on articles.jsonl" in result.stdout
    result = runner.invoke(app, ["measure", "eval-dedup", samples, samples, "--copies", "2", "--json"])
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0 and len(reports) == 2 and reports[0]["stage"] == reports[1]["stage"]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"title": "half', encoding="utf-8")
    result = runner.invoke(app, ["measure", "eval-dedup", str(broken)])
    assert result.exit_code == 1 and "cannot read" in result.output
