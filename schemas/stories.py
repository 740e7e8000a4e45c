"""What the story stage keeps of each article to find its copies and its story later
(`StorySignature`, one document per article in the story-signatures index), and a merge of two
stories that turned out to be one (`StoryMerge`)."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class StorySignature(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str  # the article's
    language: str
    source: str | None = None
    title: str = ""
    published: datetime  # published_at, else when it was processed: what the time window counts
    # Near-copy lookup: a MinHash of the body's word shingles, and its LSH bands as terms.
    minhash: list[int] = Field(default_factory=list)
    shingles: int = 0
    bands: list[str] = Field(default_factory=list)
    # Story lookup: the article's weightiest analysed terms (weights beside them, same order),
    # its entity ids and the numbers it quotes; the last two carry across languages.
    terms: list[str] = Field(default_factory=list)
    weights: list[float] = Field(default_factory=list)
    entity_ids: list[str] = Field(default_factory=list)
    numbers: list[str] = Field(default_factory=list)
    # What the stage decided; empty until then.
    duplicate_of: str | None = None
    story_id: str | None = None
    story_started: datetime | None = None  # the story's first article's `published`


class StoryMerge(BaseModel):
    """Story `story_id` is `into` from now on: an article matched both (two workers that met the
    same new event at once each started one)."""

    model_config = ConfigDict(frozen=True)

    story_id: str
    into: str
