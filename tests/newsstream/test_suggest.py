"""Words for a rule in other languages, from the stored stories it matches: the shipped
multilingual story samples, grouped by the story stage and indexed into a scratch index on the
real Elasticsearch."""
from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from newsstream.cli.main import app
from newsstream.measure.stories import load_gold_rows
from newsstream.measure.suggestions import index_stories
from newsstream.settings import PROJECT_ROOT
from newsstream.suggest import suggest_words

pytestmark = pytest.mark.integration

SAMPLES = [PROJECT_ROOT / "samples" / name for name in ("stories-gold.jsonl", "stories-es-it.jsonl")]


@pytest.fixture(scope="module")
def stored_stories(stack, es_client):  # noqa: ANN001
    index = f"test-suggest-{uuid.uuid4().hex[:8]}"
    rows = [row for path in SAMPLES for row in load_gold_rows(path)]
    index_stories(es_client, index, rows, stack.pipeline, stack.stories)
    yield index
    es_client.options(ignore_status=404).indices.delete(index=index)
    es_client.options(ignore_status=404).indices.delete_index_template(name=f"{index}-template")


def words(found, language: str) -> list[str]:  # noqa: ANN001
    return [suggestion.word for suggestion in found.by_language.get(language, [])]


def test_an_english_word_gets_the_words_its_stories_use_in_other_languages(stack, es_client, stored_stories) -> None:  # noqa: ANN001
    found = suggest_words(es_client, stored_stories, "earthquake", stack.language_set)
    assert found.stories == 2 and "en" in found.covered
    assert "Erdbeben" in words(found, "de") and "séisme" in words(found, "fr")
    assert "terremoto" in words(found, "es") + words(found, "it")
    # Names and numbers belong to one story, not to the concept.
    assert not {"Kreta", "Crète", "Peru", "5,9"} & set(words(found, "de") + words(found, "fr"))


def test_languages_the_query_matches_already_get_nothing(stack, es_client, stored_stories) -> None:  # noqa: ANN001
    found = suggest_words(es_client, stored_stories, "Lufthansa", stack.language_set)
    assert {"de", "en", "fr"} <= set(found.covered) and not {"de", "en", "fr"} & set(found.by_language)
    assert suggest_words(es_client, stored_stories, "zzzunmatched", stack.language_set).stories == 0


def test_the_command_shows_them_and_adds_nothing_without_the_author(stack, stored_stories, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr("newsstream.cli.alerts.get_settings", lambda: stack.model_copy(
        update={"index_articles": stored_stories}))
    shown = CliRunner().invoke(app, ["alerts", "suggest", "-q", "storm", "--json"])
    assert shown.exit_code == 0, shown.output
    assert "Sturm" in [s["word"] for s in json.loads(shown.stdout)["by_language"]["de"]]
    # Not a terminal and no --yes: shown, nothing accepted; the broken query is refused first.
    refused = CliRunner().invoke(app, ["alerts", "add", "x", "-q", "(storm", "--suggest"])
    assert refused.exit_code == 2 and "invalid query" in refused.output
