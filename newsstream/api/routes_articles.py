"""`GET /articles/{id}` (one enriched article) and `POST /articles` (raw articles into Kafka)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field, RootModel, model_validator

from ingest.producer import encode_article, produce_articles
from newsstream.api.auth import require_read_key, require_write_key
from newsstream.api.context import Context
from processors.index import article_from_document
from schemas import EnrichedArticle, RawArticle

router = APIRouter(tags=["articles"])

MAX_ARTICLES_PER_REQUEST = 1000
ENVELOPE_BYTES = 64 * 1024  # title, metadata… beside the body: what the worker takes (processors/pipeline.py)


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


def _refuse_oversized(articles: list[RawArticle], max_body_bytes: int) -> None:
    """413 naming the first article the worker would refuse for its size, before anything is produced."""
    for index, article in enumerate(articles):
        body_bytes = len(article.body.encode("utf-8"))
        if body_bytes > max_body_bytes:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body[{index}].body: {body_bytes} bytes, over the "
                                f"limit of {max_body_bytes} bytes (NEWSSTREAM_MAX_BODY_BYTES); nothing was accepted")
        encoded = len(encode_article(article))
        if encoded > max_body_bytes + ENVELOPE_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body[{index}]: {encoded} bytes as JSON, over the "
                                f"limit of {max_body_bytes + ENVELOPE_BYTES} bytes (the body's limit and "
                                f"{ENVELOPE_BYTES} bytes for the other fields); nothing was accepted")


@router.post("/articles", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted,
             dependencies=[Depends(require_write_key)],
             responses={413: {"description": "the request, or one article, is over the size limit"}})
def ingest_articles(
    context: Context,
    articles: Annotated[ArticleBatch, Body(description=f"a raw article, or a list of at most "
                                                       f"{MAX_ARTICLES_PER_REQUEST}; `body` is required")],
) -> Accepted:
    """Sends the articles to the raw topic; they are searchable once a worker has processed them.
    The whole list is checked first: one invalid or oversized article and nothing is sent."""
    settings = context.settings
    _refuse_oversized(articles.root, settings.max_body_bytes)
    ids = produce_articles(context.producer(), settings.topic_raw, articles.root)
    context.metrics.ingested.inc(len(ids))
    return Accepted(accepted=len(ids), ids=ids)
