"""`GET /search`: language-aware full-text search with filters, pages and facets."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import StringConstraints, ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError

from newsstream.api.auth import require_read_key
from newsstream.api.context import Context
from newsstream.search import PageOutOfRange, SearchFilters, SearchPage, search_page

router = APIRouter(tags=["search"], dependencies=[Depends(require_read_key)])

MAX_PAGE_SIZE = 100
MAX_NAMES = 20  # values of one repeatable filter: each is a clause of the query
MAX_NAME_LENGTH = 200  # characters of one filter value (Elasticsearch refuses terms past 32766 bytes)
Name = Annotated[str, StringConstraints(max_length=MAX_NAME_LENGTH)]


def _one_message(value: Any, handler: ValidatorFunctionWrapHandler) -> date | datetime:
    # One message for the parameter, not one per member of the union.
    try:
        return handler(value)
    except ValidationError:
        raise PydanticCustomError("date_or_time", "expected a date like 2024-05-31 or a date and time like "
                                  "2024-05-31T18:00:00Z") from None


DateOrTime = Annotated[date | datetime, WrapValidator(_one_message)]


@router.get("/search", response_model=SearchPage)
def search(
    context: Context,
    q: Annotated[str, Query(max_length=1000, description="words to find, in any of their forms and languages; "
                                                          "`*` or nothing lists the newest articles")] = "*",
    lang: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}$", description="only articles in this language")] = None,
    entity: Annotated[list[Name] | None, Query(max_length=MAX_NAMES, description="only articles naming this "
                                              "person, place, organisation… by id (Q142) or by any name in any "
                                              "language (repeat: all of them)")] = None,
    person: Annotated[list[Name] | None, Query(max_length=MAX_NAMES, description="only articles naming this "
                                              "person, by id or name (repeatable)")] = None,
    location: Annotated[list[Name] | None, Query(max_length=MAX_NAMES, description="only articles naming this "
                                                "place, by id or name (repeatable)")] = None,
    organization: Annotated[list[Name] | None, Query(max_length=MAX_NAMES, description="only articles naming "
                                                    "this organisation, by id or name (repeatable)")] = None,
    agency: Annotated[str | None, Query(max_length=MAX_NAME_LENGTH,
                                        description="only articles credited to this agency")] = None,
    source: Annotated[str | None, Query(max_length=MAX_NAME_LENGTH,
                                        description="only articles from this source")] = None,
    published_from: Annotated[DateOrTime | None, Query(alias="from", description="published on or after "
                                                            "(a date, or a date and time)")] = None,
    published_to: Annotated[DateOrTime | None, Query(alias="to", description="published on or before (a date "
                                                          "includes its whole day)")] = None,
    page: Annotated[int, Query(ge=1, description="1 is the first page")] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="hits per page")] = 10,
    collapse: Annotated[bool, Query(description="one hit per story, its other articles listed with it; false "
                                                "lists every article")] = True,
) -> SearchPage:
    # By day: a date, a naive and an aware datetime cannot all be compared with each other.
    if published_from and published_to and _day(published_from) > _day(published_to):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"query parameter from ({published_from}) is after to ({published_to})")
    filters = SearchFilters(lang=lang, entities=tuple(entity or ()), persons=tuple(person or ()),
                            locations=tuple(location or ()), organizations=tuple(organization or ()),
                            agency=agency, source=source, published_from=published_from, published_to=published_to)
    settings = context.settings
    try:
        kb = context.knowledge_base() if entity or person or location or organization else None
        result = search_page(context.es, settings.index_articles, q, settings.language_set, filters,
                             page=page, size=size, kb=kb, collapse=collapse)
    except PageOutOfRange as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    context.metrics.searches.inc()
    return result


def _day(moment: date | datetime) -> date:
    return moment.date() if isinstance(moment, datetime) else moment
