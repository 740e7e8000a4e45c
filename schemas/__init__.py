"""Typed records that flow between the stages, the topics and the index."""
from schemas.articles import (
    EnrichedArticle,
    Entity,
    EntityLabel,
    LanguageShare,
    Mention,
    Paragraph,
    RawArticle,
    article_id,
)
from schemas.cleaned import CleanedArticle
from schemas.deadletter import DeadLetter

__all__ = [
    "CleanedArticle",
    "DeadLetter",
    "EnrichedArticle",
    "Entity",
    "EntityLabel",
    "LanguageShare",
    "Mention",
    "Paragraph",
    "RawArticle",
    "article_id",
]
