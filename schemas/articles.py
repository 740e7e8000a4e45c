"""Articles as they enter (`RawArticle`) and as they leave the pipeline (`EnrichedArticle`)."""
from __future__ import annotations

import hashlib
import math
from datetime import datetime, timezone
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

EntityLabel = Literal["person", "location", "organization", "misc"]

MAX_METADATA_DEPTH = 16  # levels of objects and arrays in `metadata`, itself the first


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def article_id(*, url: str | None, source: str | None, title: str, body: str) -> str:
    """A stable id: the same article fed twice gets the same id (and so the same document)."""
    if url:
        basis = "url:" + url.strip().split("#", 1)[0].rstrip("/").lower()
    else:
        basis = "text:" + "\x1f".join(
            " ".join(part.split()).lower() for part in (source or "", title, body)
        )
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:24]


class RawArticle(BaseModel):
    """One article as a producer hands it over; `id` is derived when absent."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(default="", max_length=128, pattern=r"^[A-Za-z0-9._:-]*$")
    url: str | None = None
    source: str | None = None
    title: str = ""
    body: str = Field(min_length=1)
    published_at: datetime | None = None
    fetched_at: datetime = Field(default_factory=_utcnow)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("body")
    @classmethod
    def _body_has_text(cls, body: str) -> str:
        if not body.strip():
            raise ValueError("body is empty")
        return body

    @field_validator("id")
    @classmethod
    def _id_is_addressable(cls, given: str) -> str:
        # Clients resolve the path segments "." and ".." away: GET /articles/.. could never reach it.
        if given in (".", ".."):
            raise ValueError('an id cannot be "." or ".."')
        return given

    @field_validator("metadata")
    @classmethod
    def _metadata_is_plain_json(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        _check_json_value(metadata)
        try:
            orjson.dumps(metadata)  # what encode_article does: every producer must be able to send it
        except (TypeError, orjson.JSONEncodeError) as error:
            raise ValueError(f"metadata cannot be sent as JSON: {error}") from None
        return metadata

    @model_validator(mode="after")
    def _derive_id(self) -> "RawArticle":
        if not self.id:
            self.id = article_id(url=self.url, source=self.source, title=self.title, body=self.body)
        return self


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_json_value(value: Any) -> None:
    """Raises ValueError for nesting past MAX_METADATA_DEPTH, a non-finite number (NaN, Infinity,
    1e999: JSON has none and they would silently become null), a key that is not a string or a
    string with a lone surrogate. Iterative: a value nested thousands deep must not recurse."""
    pending: list[tuple[Any, int, str]] = [(value, 1, "metadata")]
    while pending:
        item, depth, where = pending.pop()
        if isinstance(item, (dict, list, tuple)):
            if depth > MAX_METADATA_DEPTH:
                raise ValueError(f"metadata is nested more than {MAX_METADATA_DEPTH} levels deep (at {where})")
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str) or not _encodable(key):
                        raise ValueError(f"{where} has a key that is not a valid string: {key!r}")
                    pending.append((child, depth + 1, f"{where}.{key}"))
            else:
                pending.extend((child, depth + 1, f"{where}[{index}]") for index, child in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{where} is {item}: only finite numbers can be sent as JSON")
        elif isinstance(item, str) and not _encodable(item):
            raise ValueError(f"{where} holds a lone surrogate (an invalid \\uD800-\\uDFFF escape)")


class Mention(BaseModel):
    field: Literal["title", "body"]
    start: int
    end: int


class Entity(BaseModel):
    """A named entity with every place it is mentioned (character offsets in the cleaned text)."""

    # Its identity, the same in every article and language: a Wikidata QID ("Q142") or GeoNames id
    # when the knowledge base knows it, else label and name key ("per:vladimir-putin").
    id: str = ""
    name: str = ""  # canonical display name (the knowledge base's, else the article's spelling)
    text: str  # the spelling this article uses most
    label: EntityLabel
    count: int
    mentions: list[Mention] = Field(default_factory=list)
    # The other spellings its mentions have: a surname alone, an acronym, another casing.
    aliases: list[str] = Field(default_factory=list)


class LanguageShare(BaseModel):
    code: str
    share: float = Field(ge=0.0, le=1.0)


class Paragraph(BaseModel):
    """A paragraph of the cleaned body, with where it sits and the language it is written in."""

    text: str
    start: int
    end: int
    language: str = "und"


class EnrichedArticle(BaseModel):
    id: str
    url: str | None = None
    source: str | None = None
    title: str
    body: str
    language: str
    languages: list[LanguageShare]
    entities: list[Entity] = Field(default_factory=list)
    agencies: list[str] = Field(default_factory=list)
    credits: list[str] = Field(default_factory=list)
    paragraphs: list[Paragraph] = Field(default_factory=list)
    # Language-aware search terms (analysis module), indexed with the `whitespace` analyzer.
    title_terms: str = ""
    body_terms: str = ""
    # Languages present in the text that no NER model covers: no entities were guessed for them.
    ner_unavailable: list[str] = Field(default_factory=list)
    # The story stage's (processors/stories.py): the earliest near-copy of this text seen, and the
    # event the article reports, the id of the story's first article (its own when it starts one).
    duplicate_of: str | None = None
    story_id: str | None = None
    published_at: datetime | None = None
    fetched_at: datetime | None = None
    processed_at: datetime = Field(default_factory=_utcnow)
    metadata: dict[str, Any] = Field(default_factory=dict)

    def entity_names(self, label: EntityLabel) -> list[str]:
        return [entity.name or entity.text for entity in self.entities if entity.label == label]

    def entity_ids(self, label: EntityLabel | None = None) -> list[str]:
        return [entity.id for entity in self.entities if entity.id and label in (None, entity.label)]
