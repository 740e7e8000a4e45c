"""The index stage: documents keyed by article id, entity names denormalised for facets, and
documents that read back as the article they came from."""
from __future__ import annotations

from processors.config import PipelineConfig
from processors.index import article_document, article_from_document, bulk_actions
from processors.pipeline import process_messages
from schemas import EnrichedArticle

PAYLOAD = (b'{"id": "idx-1", "title": "Scholz in Paris", "body": "Olaf Scholz met Emmanuel Macron in Paris on '
           b'Monday, said the European Commission."}')


def enriched() -> EnrichedArticle:
    (article,) = process_messages([PAYLOAD], PipelineConfig())
    assert isinstance(article, EnrichedArticle)
    return article


def test_entity_names_are_denormalised_per_kind() -> None:
    article = enriched()
    document = article_document(article)
    assert document["persons"] == article.entity_names("person") and "Emmanuel Macron" in document["persons"]
    assert "Paris" in document["locations"]
    assert set(document) >= {"persons", "locations", "organizations", "misc", "body_terms", "title_terms"}


def test_a_document_reads_back_as_its_article() -> None:
    article = enriched()
    assert article_from_document(article_document(article)) == article


def test_bulk_actions_index_by_id_so_a_replay_overwrites() -> None:
    article = enriched()
    (action,) = list(bulk_actions([article], "articles"))
    assert (action["_op_type"], action["_index"], action["_id"]) == ("index", "articles", "idx-1")
