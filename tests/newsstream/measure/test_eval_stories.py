"""`newsstream measure eval-stories`: B-cubed on hand-made clusterings, the shipped multilingual gold
set (samples/stories-gold.jsonl) through the stage, and the French-News-Clustering day when its
mirror is here (read at run time, never copied)."""
from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from newsstream.cli.main import app
from newsstream.measure.stories import (
    BATCH_SIZE,
    DEFAULT_THRESHOLDS,
    b_cubed,
    cross_language_pairs,
    enrich_rows,
    evaluate_enriched,
    evaluate_stories,
    load_gold_rows,
    parse_french_news_clustering,
    raw_articles,
    render_stories,
    run_stage,
    same_story_pairs,
    title_baseline,
)
from newsstream.settings import PROJECT_ROOT
from processors.config import PipelineConfig, StoryConfig
from processors.stories import InMemoryStories, relatedness, signature
from schemas import EnrichedArticle

GOLD = PROJECT_ROOT / "samples" / "stories-gold.jsonl"
FNC_GIT = Path("/work/.mirror/ia-labo+French-News-Clustering/repo")
CONFIG = StoryConfig()
EVENTS = ("quake-crete", "rate-norway", "strike-lufthansa", "storm-brittany", "takeover-kerlaz", "launch-kourou")
# Each a different event on an event's topic, within the window: topic alone must not join them.
CONTROLS = {"quake-peru": "quake-crete", "rate-australia": "rate-norway", "strike-sncf": "strike-lufthansa",
            "flood-slovenia": "storm-brittany", "takeover-vossberg": "takeover-kerlaz"}


@pytest.fixture(scope="module")
def enriched() -> tuple[list[EnrichedArticle], list[str]]:
    articles, gold, failed = enrich_rows(load_gold_rows(GOLD), PipelineConfig())
    assert failed == 0
    return articles, gold


def test_b_cubed_on_hand_made_clusterings() -> None:
    gold = ["x", "x", "x", "y", "y"]
    # Predicted {1, 2} {3, 4, 5}: precisions 1, 1, 1/3, 2/3, 2/3; recalls 2/3, 2/3, 1/3, 1, 1.
    assert b_cubed(["a", "a", "b", "b", "b"], gold).as_dict() == {"precision": 0.7333, "recall": 0.7333, "f1": 0.7333}
    # One cluster: precision (3 * 3/5 + 2 * 2/5) / 5; singletons: recall (3 * 1/3 + 2 * 1/2) / 5.
    assert b_cubed(["a"] * 5, gold).as_dict() == {"precision": 0.52, "recall": 1.0, "f1": 0.6842}
    assert b_cubed(["1", "2", "3", "4", "5"], gold).as_dict() == {"precision": 1.0, "recall": 0.4, "f1": 0.5714}
    assert b_cubed(["q", "q", "q", "r", "r"], gold).f1 == 1.0  # labels are names only
    with pytest.raises(ValueError):
        b_cubed(["a"], gold)


def test_pair_scores_count_pairs_in_one_story_and_across_languages() -> None:
    gold, languages = ["x", "x", "x", "y", "y"], ["en", "fr", "de", "en", "fr"]
    # Gold pairs: 3 in x, 1 in y; predicted {1, 2} {3, 4, 5}: 1 + 3, of which 1-2 and 4-5 are right.
    score = same_story_pairs(["a", "a", "b", "b", "b"], gold)
    assert (score.gold, score.predicted, score.correct, score.precision, score.recall) == (4, 4, 2, 0.5, 0.5)
    assert same_story_pairs(["1", "2", "3", "4", "5"], gold).as_dict() == {
        "gold": 4, "predicted": 0, "correct": 0, "precision": 1.0, "recall": 0.0}
    # Gold pairs across languages: en-fr, en-de, fr-de in x, en-fr in y. Predicted {1, 2} {3, 4, 5}:
    # en-fr in the first, de-en, de-fr, en-fr in the second; right: 1-2 and 4-5.
    score = cross_language_pairs(["a", "a", "b", "b", "b"], gold, languages)
    assert (score.gold, score.predicted, score.correct, score.precision, score.recall) == (4, 4, 2, 0.5, 0.5)
    assert cross_language_pairs(["a", "a", "a", "b", "b"], gold, ["en"] * 5).as_dict()["recall"] == 1.0


def test_title_baseline_and_the_french_news_clustering_reader() -> None:
    articles = [EnrichedArticle(id=i, title=t, body="b", language="fr", languages=[])
                for i, t in (("1", "Grève : la SNCF"), ("2", "grève   la SNCF !"), ("3", ""), ("4", "Autre"))]
    assert title_baseline(articles) == ["1", "1", "3", "4"]
    text = "\n".join((  # the layout of the aggregator's export, with made-up lines
        'Titre B,2020-01-10 08:00:00,ObjectId(bb),france,"{""score"":1}"',
        'Titre A,2020-01-10 09:00:00,ObjectId(aa),sitemap,',
        'Titre A,2020-01-10 07:00:00,ObjectId(aa),sitemap,',  # listed again, earlier: one article
        'Titre A bis,2020-01-10 09:30:00,ObjectId(aa),international,',
        'Sans identifiant,2020-01-10 10:00:00,,sitemap,'))
    rows = parse_french_news_clustering(text)
    assert [(row["title"], row["story"], row["published_at"]) for row in rows] == [
        ("Titre A", "aa", "2020-01-10T07:00:00+00:00"), ("Titre B", "bb", "2020-01-10T08:00:00+00:00"),
        ("Titre A bis", "aa", "2020-01-10T09:30:00+00:00")]
    assert all(row["body"] == row["title"] and row["lang"] == "fr" for row in rows)
    raws, stories = raw_articles(rows)
    assert [raw.id for raw in raws] == ["fnc-00000", "fnc-00001", "fnc-00002"] and stories == ["aa", "bb", "aa"]
    assert raws[0].metadata == {"language_hint": "fr"}
    with pytest.raises(ValueError, match="more than once"):
        raw_articles([{"id": "a", "body": "b", "story": "s"}, {"id": "a", "body": "c", "story": "s"}])


def test_the_gold_set_is_six_events_in_three_languages_with_same_topic_controls() -> None:
    rows = load_gold_rows(GOLD)
    assert len({row["id"] for row in rows}) == len(rows)
    assert all(set(row) == {"id", "title", "body", "lang", "source", "published_at", "story"} for row in rows)
    by_story: dict[str, Counter[str]] = {}
    for row in rows:
        by_story.setdefault(row["story"], Counter())[row["lang"]] += 1
    assert set(by_story) == {*EVENTS, *CONTROLS}
    assert all(set(by_story[event]) == {"en", "fr", "de"} and min(by_story[event].values()) >= 2 for event in EVENTS)
    assert all(80 <= len(row["body"].split()) <= 200 for row in rows)
    assert len({row["source"] for row in rows}) >= 6
    _, stories = raw_articles(rows)
    assert len(stories) == len(rows)


def test_run_stage_is_the_in_memory_store_as_the_worker_runs_it(
        enriched: tuple[list[EnrichedArticle], list[str]]) -> None:
    articles, _ = enriched
    store = InMemoryStories(CONFIG)
    for start in range(0, len(articles), 8):  # small batches: most candidates come from the store
        store.assign(articles[start:start + 8])
    ours, _ = run_stage([signature(article, CONFIG) for article in articles], CONFIG, batch_size=8)
    assert ours == [store.stored[article.id].story_id for article in articles]


def test_on_the_gold_set_the_stage_beats_the_baselines_and_keeps_precision(
        enriched: tuple[list[EnrichedArticle], list[str]]) -> None:
    articles, gold = enriched
    report = evaluate_enriched(articles, gold, CONFIG, corpus=GOLD.name)
    singletons, titles = report.baselines
    assert (report.articles, report.gold_stories, report.gold_singletons) == (49, 11, 0)
    assert report.languages == {"en": 18, "de": 16, "fr": 15}
    assert singletons.b_cubed.precision == 1.0 and singletons.cross_language.recall == 0.0
    assert report.stage.b_cubed.recall >= singletons.b_cubed.recall + 0.6
    assert report.stage.b_cubed.precision >= 0.95 and report.stage.b_cubed.f1 > titles.b_cubed.f1
    assert report.stage.cross_language.recall >= 0.8 and report.stage.cross_language.precision >= 0.95
    assert report.stage.pairs.precision >= 0.95 and report.stage.pairs.recall >= 0.8 and singletons.pairs.recall == 0
    # The sweep holds the configured setting's run, and a lower same-language threshold merges events.
    assert [(p.same_language_threshold, p.cross_language_threshold) for p in report.sweep] == list(DEFAULT_THRESHOLDS)
    configured = next(p for p in report.sweep if (p.same_language_threshold, p.cross_language_threshold) == (
        CONFIG.same_language_threshold, CONFIG.cross_language_threshold))
    assert configured.clustering == report.stage
    loosest = report.sweep[0].clustering
    assert loosest.b_cubed.precision < report.stage.b_cubed.precision and loosest.b_cubed.recall == 1.0
    as_dict = json.loads(json.dumps(report.as_dict()))
    assert as_dict["stage"]["b_cubed"] == report.stage.b_cubed.as_dict()
    assert len(as_dict["sweep"]) == len(DEFAULT_THRESHOLDS) and as_dict["stage"]["largest"] <= 7
    assert as_dict["best"]["b_cubed"]["f1"] >= report.stage.b_cubed.f1
    text = render_stories(report)
    assert "singletons" in text and "exact normalised title" in text and "threshold sweep" in text


def test_same_topic_controls_stay_below_the_thresholds(enriched: tuple[list[EnrichedArticle], list[str]]) -> None:
    articles, gold = enriched
    signatures = [signature(article, CONFIG) for article in articles]
    story_of = dict(zip((s.id for s in signatures), gold, strict=True))
    control_pairs: list[float] = []
    for a in signatures:
        for b in signatures:
            if CONTROLS.get(story_of[a.id]) == story_of[b.id]:
                threshold = (CONFIG.same_language_threshold if a.language == b.language
                             else CONFIG.cross_language_threshold)
                control_pairs.append(score := relatedness(a, b))
                assert score < threshold, (a.id, b.id, score)
    assert len(control_pairs) > 50
    groups = {(g.languages, g.story): g for g in evaluate_enriched(articles, gold, CONFIG, thresholds=()).pairs}
    assert groups[("same", "different")].reaching_threshold == groups[("cross", "different")].reaching_threshold == 0
    assert groups[("same", "same")].median > groups[("same", "different")].max


def test_evaluate_stories_enriches_then_scores(enriched: tuple[list[EnrichedArticle], list[str]]) -> None:
    articles, gold = enriched
    messages: list[str] = []
    report = evaluate_stories(load_gold_rows(GOLD), PipelineConfig(), thresholds=(), progress=messages.append)
    assert report.stage == evaluate_enriched(articles, gold, CONFIG, thresholds=()).stage
    assert report.sweep == () and any(message.startswith("enriched 49/49") for message in messages)


@pytest.mark.skipif(not FNC_GIT.exists(), reason="the French-News-Clustering mirror is not here")
def test_on_a_french_news_clustering_slice_the_stage_groups_headlines() -> None:
    text = subprocess.run(["git", f"--git-dir={FNC_GIT}", "show", "HEAD:api/client/test_one_day.csv"],
                          capture_output=True, text=True, check=True).stdout
    rows: list[dict[str, Any]] = parse_french_news_clustering(text)
    sizes = Counter(row["story"] for row in rows)
    assert (len(rows), len(sizes), sum(1 for n in sizes.values() if n == 1)) == (4892, 3974, 3598)
    head = rows[: 6 * BATCH_SIZE]  # the first hours: enough to score, quick to enrich
    report = evaluate_stories(head, PipelineConfig(), thresholds=(), corpus="French-News-Clustering")
    singletons = report.baselines[0]
    assert report.articles == len(head) and report.stage.cross_language.gold == 0
    assert report.stage.b_cubed.recall > singletons.b_cubed.recall


def test_the_command_prints_the_table_or_json_and_fails_clearly_on_a_broken_file(tmp_path) -> None:  # noqa: ANN001
    runner = CliRunner()
    result = runner.invoke(app, ["measure", "eval-stories", str(GOLD), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["articles"] == len(load_gold_rows(GOLD)) and report["stage"]["b_cubed"]["f1"] > 0.9
    broken = tmp_path / "gold.jsonl"
    broken.write_text('{"title": "t", "body": "b"}\n', encoding="utf-8")  # no gold story
    result = runner.invoke(app, ["measure", "eval-stories", str(broken)])
    assert result.exit_code == 1 and "cannot evaluate" in result.output
