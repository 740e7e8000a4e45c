"""`GET /articles/{id}` (one enriched article) and `POST /articles` (raw articles into Kafka)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field, RootModel, model_validator

from ingest.producer import produce_articles
from newsstream.api.auth import require_read_key, require_write_key
from newsstream.api.context import Context
from processors.index import article_from_document
from schemas import EnrichedArticle, RawArticle

router = APIRouter(tags=["articles"])

MAX_ARTICLES_PER_REQUEST = 1000


class ArticleBatch(RootModel[list[RawArticle]]):
    """One article, or a list of them."""

    root: list[RawArticle] = Field(min_length=1, max_length=MAX_ARTICLES_PER_REQUEST)

    @model_validator(mode="before")
    @classmethod
    def _one_is_a_list_of_one(cls, data: Any) -> Any:
        return [data] if isinstance(data, dict) else data


class Accepted(BaseModel):
    accepted: int
    ids: list[str]  # stable: the same article sent again gets the same id


@router.get("/articles/{article_id}", response_model=EnrichedArticle, dependencies=[Depends(require_read_key)],
            responses={404: {"description": "no indexed article has this id"}})
def get_article(
    context: Context, article_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")],
) -> EnrichedArticle:
    found = context.es.options(ignore_status=404).get(index=context.settings.index_articles, id=article_id)
    if not found.get("found"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no indexed article has the id {article_id!r} "
                            "(an article just sent is searchable once a worker has processed it)")
    return article_from_document(found["_source"])


@router.post("/articles", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted,
             dependencies=[Depends(require_write_key)])
def ingest_articles(
    context: Context,
    articles: Annotated[ArticleBatch, Body(description=f"a raw article, or a list of at most "
                                                       f"{MAX_ARTICLES_PER_REQUEST}; `body` is required")],
) -> Accepted:
    """Sends the articles to the raw topic; they are searchable once a worker has processed them."""
    settings = context.settings
    ids = produce_articles(context.producer(), settings.topic_raw, articles.root)
    context.metrics.ingested.inc(len(ids))
    return Accepted(accepted=len(ids), ids=ids)
