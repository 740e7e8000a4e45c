"""The NER pipelines the project trains (models/) on articles written for this project, through the
pipeline as the worker runs it: their people, places and organisations come out."""
from __future__ import annotations

import pytest

from newsstream.settings import PROJECT_ROOT
from processors.config import PipelineConfig
from processors.pipeline import process_messages
from schemas import EnrichedArticle

SAMPLES = (PROJECT_ROOT / "samples" / "articles-de-es.jsonl", PROJECT_ROOT / "samples" / "articles-it-pt.jsonl")
EXPECTED = {
    "sample-de-1": ("de", {"person": {"Annalena Baerbock", "Radosław Sikorski"},
                           "location": {"Warschau", "Ukraine", "Belarus", "Brüssel", "Berlin", "Krakau"},
                           "organization": {"Europäischen Kommission", "Nato", "Deutsche Bahn"}}),
    "sample-es-1": ("es", {"person": {"Pedro Sánchez", "Isabel Rodríguez", "Jaume Collboni"},
                           "location": {"Madrid", "Barcelona", "Bruselas"},
                           "organization": {"Banco de España", "Generalitat de Cataluña", "Comisión Europea"}}),
    "sample-pt-1": ("pt", {"person": {"Helena Martins Cordeiro", "Rui Almeida Pinto"}, "location": {"Coimbra"},
                           "organization": {"Organização Mundial da Saúde", "Câmara Municipal de Coimbra",
                                            "Banco Europeu de Investimento"}}),
    "sample-pt-2": ("pt", {"person": {"Lucas Ferreira da Silva", "Carlos Mendonça"},
                           "location": {"Rio de Janeiro", "Braga"},
                           "organization": {"Sporting Clube de Braga", "Fluminense", "Federação Portuguesa de Futebol"}}),
    "sample-it-1": ("it", {"person": {"Marco Bellandi", "Giulia Ferraris"}, "location": {"Bologna", "Casalecchio di Reno"},
                           "organization": {"Confindustria Emilia-Romagna", "Banca Europea per gli Investimenti"}}),
    # Its organisations (Legambiente, a company) are the Italian model's known misses.
    "sample-it-2": ("it", {"person": {"Antonio Ruggeri", "Elena Contarini"}, "location": {"Palermo", "Catania"}}),
}


@pytest.fixture(scope="module")
def enriched() -> dict[str, EnrichedArticle]:
    payloads = [line.encode() for path in SAMPLES for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()]
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
