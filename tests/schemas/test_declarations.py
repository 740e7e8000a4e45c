"""What the product owns is declared once: every index mapping matches its model's fields (a field
added to a model without its mapping would make every write fail under "dynamic": "strict"), and
every declared topic and index has its setting, and no setting names an undeclared one."""
from __future__ import annotations

import pytest
from pydantic import BaseModel

from newsstream.settings import Settings
from processors.alerts import pending_fields
from processors.index import article_document
from schemas import EnrichedArticle
from schemas.alerts import Alert, Delivery, Notification
from schemas.entities import EntityCorrection, EntityName
from schemas.indices import INDICES
from schemas.stories import StorySignature
from schemas.topics import TOPICS

# The documents each index holds: the model's fields, and what the index stage adds to them.
DOCUMENTS: dict[str, tuple[type[BaseModel], set[str]]] = {
    "articles": (EnrichedArticle, set(article_document(EnrichedArticle(
        id="a", title="", body="b", language="en", languages=[]))) - set(EnrichedArticle.model_fields)),
    "alerts": (Alert, set(pending_fields(None))),
    "alert_deliveries": (Delivery, set()),
    "alert_notifications": (Notification, set()),
    "entities": (EntityName, set()),
    "entity_corrections": (EntityCorrection, set()),
    "story_signatures": (StorySignature, set()),
}


@pytest.mark.parametrize("spec", INDICES, ids=lambda spec: spec.role)
def test_each_mapping_has_exactly_its_models_fields(spec) -> None:  # noqa: ANN001
    model, added = DOCUMENTS[spec.role]
    mapping = spec.body()["mappings"]
    assert mapping["dynamic"] == "strict"
    assert set(mapping["properties"]) == set(model.model_fields) | added


def test_every_index_has_a_document_model() -> None:
    assert {spec.role for spec in INDICES} == set(DOCUMENTS)


@pytest.mark.parametrize(("prefix", "specs"), [("topic_", TOPICS), ("index_", INDICES)])
def test_declarations_and_settings_name_the_same_things(prefix: str, specs) -> None:  # noqa: ANN001
    named = {field: info.default for field, info in Settings.model_fields.items()
             if field.startswith(prefix) and isinstance(info.default, str)}
    assert named == {f"{prefix}{spec.role}": spec.default_name for spec in specs}


def test_settings_give_each_declared_topic_and_index_its_configured_name() -> None:
    settings = Settings(topic_raw="in.raw", index_alerts="my-alerts")
    assert settings.topics["in.raw"].role == "raw" and settings.indices["my-alerts"].role == "alerts"
    assert len(settings.topics) == len(TOPICS) and len(settings.indices) == len(INDICES)


def test_tables_are_compacted_single_partition_topics() -> None:
    tables = [spec for spec in TOPICS if spec.compacted]
    assert {spec.role for spec in tables} == {"rules", "feeds_seen", "feeds_state", "deadletter_replayed"}
    assert all(spec.partitions == 1 and spec.configs()["cleanup.policy"] == "compact" for spec in tables)
