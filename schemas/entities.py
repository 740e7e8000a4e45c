"""The entities index: one document per spelling of an entity in a language, so the knowledge
base grows with the stream. Each document's id is derived from (entity, spelling, language): every
worker writes the same document for the same sighting, and a create that conflicts was seen before."""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from schemas.articles import EntityLabel


def entity_name_id(entity_id: str, spelling: str, language: str) -> str:
    return hashlib.sha256("\x1f".join((entity_id, spelling, language)).encode()).hexdigest()[:24]


class EntityName(BaseModel):
    id: str
    entity_id: str
    label: EntityLabel
    name: str  # the entity's canonical name
    spelling: str
    folded: str  # the spelling in lowercase ASCII, for autocomplete by prefix
    language: str
    first_seen: datetime
    first_article: str


class EntityCorrection(BaseModel):
    """A person's settlement, in the entity-corrections index: `merge` (entity_id is now `into`)
    or `split` (the spelling whose name key is `key` is not entity_id). The document id says what
    is corrected, so a correction made twice is one document."""

    id: str
    kind: Literal["merge", "split"]
    entity_id: str
    into: str | None = None  # merge: the id kept
    name: str | None = None  # merge: the kept entity's display name
    key: str | None = None  # split: the name key of the spelling split off
    spelling: str | None = None  # split: as the person typed it
    created_at: datetime

    @staticmethod
    def merge_id(entity_id: str) -> str:
        return f"merge:{entity_id}"

    @staticmethod
    def split_id(entity_id: str, key: str) -> str:
        return f"split:{entity_id}:{key}"
