"""The NER pipelines the project trains (models/) on articles written for this project, through the
pipeline as the worker runs it: their people, places and organisations come out."""
from __future__ import annotations

import pytest

from newsstream.settings import PROJECT_ROOT
from processors.config import PipelineConfig
from processors.pipeline import process_messages
from schemas import EnrichedArticle

SAMPLES = PROJECT_ROOT / "samples" / "articles-de-es.jsonl"
EXPECTED = {
    "sample-de-1": ("de", {"person": {"Annalena Baerbock", "Radosław Sikorski"},
                           "location": {"Warschau", "Ukraine", "Belarus", "Brüssel", "Berlin", "Krakau"},
                           "organization": {"Europäischen Kommission", "Nato", "Deutsche Bahn"}}),
    "sample-es-1": ("es", {"person": {"Pedro Sánchez", "Isabel Rodríguez", "Jaume Collboni"},
                           "location": {"Madrid", "Barcelona", "Bruselas"},
                           "organization": {"Banco de España", "Generalitat de Cataluña", "Comisión Europea"}}),
}


@pytest.fixture(scope="module")
def enriched() -> dict[str, EnrichedArticle]:
    payloads = [line.encode() for line in SAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    outcomes = process_messages(payloads, PipelineConfig())
    assert all(isinstance(outcome, EnrichedArticle) for outcome in outcomes)
    return {outcome.id: outcome for outcome in outcomes}


@pytest.mark.parametrize("article_id", sorted(EXPECTED))
def test_trained_models_find_the_people_places_and_organisations(enriched, article_id) -> None:  # noqa: ANN001
    language, expected = EXPECTED[article_id]
    article = enriched[article_id]
    assert article.language == language and article.ner_unavailable == []
    found = {label: {e.text for e in article.entities if e.label == label} for label in expected}
    missing = {label: names - found[label] for label, names in expected.items() if names - found[label]}
    # A few misses are the model's, not a bug; most of each kind must be there.
    for label, names in expected.items():
        assert len(names & found[label]) >= len(names) - 1, (label, missing, found)
