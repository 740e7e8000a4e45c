"""The Elasticsearch indices the product owns, declared once with their mappings (JSON beside
this file, each checked by a test against the fields of its model). Names are settings
(`NEWSSTREAM_INDEX_<ROLE>`)."""
from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict


class IndexSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: str  # the settings field is index_<role>
    default_name: str
    mapping_file: str  # in schemas/mappings/
    description: str

    def body(self) -> dict[str, Any]:
        """{"settings": ..., "mappings": ...} as kept in the repo."""
        return json.loads(resources.files("schemas").joinpath("mappings", self.mapping_file).read_text())


INDICES: tuple[IndexSpec, ...] = (
    IndexSpec(role="articles", default_name="articles", mapping_file="articles.json",
              description="enriched articles, by article id"),
    IndexSpec(role="alerts", default_name="alerts", mapping_file="alerts.json",
              description="alerts, by (rule, story) id: a create that conflicts means the story alerted before, "
                          "and the article is added to that alert; pending until it is on the alerts topic"),
    IndexSpec(role="alert_deliveries", default_name="alert-deliveries", mapping_file="alert-deliveries.json",
              description="the delivery log: one document per (alert, channel), created before the first "
                          "attempt, so a channel gets an alert at most once"),
    IndexSpec(role="alert_notifications", default_name="alert-notifications", mapping_file="alert-notifications.json",
              description="digests and throttled messages, by (rule, channel, period, slot) id: created before "
                          "sending, so each goes out once and a throttled rule's hour holds at most its limit"),
    IndexSpec(role="entities", default_name="entities", mapping_file="entities.json",
              description="entity spellings by language, by (entity, spelling, language) id: written by every "
                          "worker, a create that conflicts means seen before"),
    IndexSpec(role="entity_corrections", default_name="entity-corrections", mapping_file="entity-corrections.json",
              description="entity merges and splits people made, by what they correct: applied by every worker "
                          "and to past articles"),
    IndexSpec(role="story_signatures", default_name="story-signatures", mapping_file="story-signatures.json",
              description="what finds an article's copies and story (MinHash bands, terms, entity ids), by "
                          "article id: looked up by terms within the story window"),
)
