"""`GET /stories` (the newest stories, each an event across outlets and languages) and
`GET /stories/{id}` (one story's timeline)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from newsstream.api.auth import require_read_key
from newsstream.api.context import Context
from newsstream.stories import StoryDetail, StorySummary, list_stories, story

router = APIRouter(tags=["stories"], dependencies=[Depends(require_read_key)])


@router.get("/stories", response_model=list[StorySummary])
def stories(
    context: Context,
    size: Annotated[int, Query(ge=1, le=100, description="stories listed, newest first")] = 20,
    lang: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}$", description="only stories with articles in this "
                                                                           "language (counted in it only)")] = None,
    min_articles: Annotated[int, Query(ge=1, le=1000, description="only stories of at least this many "
                                                                  "articles (2: those with copies or follow-ups)")] = 1,
) -> list[StorySummary]:
    return list_stories(context.es, context.settings.index_articles, size=size, lang=lang, min_articles=min_articles)


@router.get("/stories/{story_id}", response_model=StoryDetail,
            responses={404: {"description": "no article is in this story"}})
def one_story(context: Context,
              story_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]) -> StoryDetail:
    found = story(context.es, context.settings.index_articles, story_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no story {story_id}")
    return found
