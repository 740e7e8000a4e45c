"""`GET /entities?q=` (autocomplete by any spelling) and `GET /entities/{id}` (one entity's view)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from newsstream.api.auth import require_read_key
from newsstream.api.context import Context
from newsstream.entities import EntitySuggestion, EntityView, entity_view, suggest_entities

router = APIRouter(tags=["entities"], dependencies=[Depends(require_read_key)])


@router.get("/entities", response_model=list[EntitySuggestion])
def entities(
    context: Context,
    q: Annotated[str, Query(min_length=1, max_length=200, description="the start of any spelling, in any "
                                                                      "language (accents and case ignored)")],
    size: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[EntitySuggestion]:
    return suggest_entities(context.es, context.settings.index_entities, q, size)


@router.get("/entities/{entity_id}", response_model=EntityView,
            responses={404: {"description": "no article and no knowledge base entry has this id"}})
def entity(context: Context,
           entity_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,200}$")]) -> EntityView:
    settings = context.settings
    view = entity_view(context.es, settings.index_articles, settings.index_entities, entity_id,
                       context.knowledge_base())
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no entity {entity_id}")
    return view
