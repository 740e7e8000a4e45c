"""Alert rules (list, add, remove), recent alerts, and live alerts as server-sent events."""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from fastapi.sse import EventSourceResponse, ServerSentEvent

from newsstream.api.alert_stream import follow_alerts
from newsstream.api.auth import require_read_key, require_read_key_or_parameter, require_write_key
from newsstream.api.context import Context
from processors.alerts import InvalidRuleQuery, compile_query
from processors.linking import with_entity_resolved
from processors.rulebook import InvalidRule, delete_rule, list_rules, publish_rule, shown
from newsstream.search import stored_deliveries
from newsstream.suggest import Suggestions, suggest_words
from schemas.alerts import Alert, Delivery, Rule

router = APIRouter(prefix="/alerts", tags=["alerts"])
log = logging.getLogger("newsstream.api.alerts")

RuleName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9 _.-]+$")]


@router.get("/rules", response_model=list[Rule], dependencies=[Depends(require_read_key)])
def get_rules(context: Context) -> list[Rule]:
    """The rules in force: read from the topic the workers follow, so the list is what they apply."""
    return [shown(rule) for rule in list_rules(context.settings.rules)]


@router.post("/rules", status_code=status.HTTP_201_CREATED, response_model=Rule,
             dependencies=[Depends(require_write_key)],
             responses={400: {"description": "the query does not parse; the message says where"},
                        422: {"description": "a field is out of bounds, or the webhook points where it may not"}})
def add_rule(context: Context, rule: Rule) -> Rule:
    """Adds the rule, or replaces the one of the same name, once it passed every check; running
    workers apply it within a second."""
    rule = with_entity_resolved(rule, context.knowledge_base())
    try:
        publish_rule(context.settings.rules, rule)
    except InvalidRuleQuery as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"invalid query: {error}") from None
    except InvalidRule as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    return shown(rule)


@router.delete("/rules/{name}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[Depends(require_write_key)],
               responses={404: {"description": "no rule has this name"}})
def remove_rule(context: Context, name: RuleName) -> Response:
    if not delete_rule(context.settings.rules, name):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no rule is named {name!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("", response_model=list[Alert], dependencies=[Depends(require_read_key)])
def recent_alerts(
    context: Context,
    rule: Annotated[str | None, Query(max_length=100, description="only this rule's alerts")] = None,
    size: Annotated[int, Query(ge=1, le=500, description="how many, newest first")] = 50,
) -> list[Alert]:
    index = context.settings.index_alerts
    if not context.es.indices.exists(index=index):
        return []  # no worker has matched anything yet
    query = {"bool": {"filter": [{"term": {"rule": rule}}] if rule else []}}
    response = context.es.search(index=index, query=query, sort=[{"matched_at": "desc"}], size=size)
    return [Alert.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]


@router.get("/deliveries", response_model=list[Delivery], dependencies=[Depends(require_read_key)])
def alert_deliveries(
    context: Context,
    rule: Annotated[str | None, Query(max_length=100, description="only this rule's deliveries")] = None,
    failed: Annotated[bool, Query(description="only those given up, with the reason")] = False,
    size: Annotated[int, Query(ge=1, le=500, description="how many, latest change first")] = 100,
) -> list[Delivery]:
    """The delivery log: each alert sent to each of its rule's channels (sending, retrying, sent
    with its latency from the match, failed with the reason)."""
    return stored_deliveries(context.es, context.settings.index_alert_deliveries, rule, failed, size)


@router.get("/suggestions", response_model=Suggestions, dependencies=[Depends(require_read_key)],
            responses={400: {"description": "the query does not parse; the message says where"}})
def word_suggestions(
    context: Context,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="a rule's query")],
    per_language: Annotated[int, Query(ge=1, le=20)] = 3,
) -> Suggestions:
    """Words for the query in the languages its stored stories have articles in that it does not
    match (see the README's Alerts section); the author adds those they accept to the rule's query,
    as `de:(…)`."""
    try:
        compile_query(q, context.settings.language_set)
    except InvalidRuleQuery as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"invalid query: {error}") from None
    return suggest_words(context.es, context.settings.index_articles, q, context.settings.language_set,
                         per_language=per_language)


@router.get("/stream", response_class=EventSourceResponse, dependencies=[Depends(require_read_key_or_parameter)])
async def stream_alerts(
    context: Context,
    rule: Annotated[str | None, Query(max_length=100, description="only this rule's alerts")] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Alerts as they are matched: first a `ready` event once listening (anything matched after
    it is sent), then one `alert` event each, its data the alert as JSON. If Kafka cannot be
    followed, an `unavailable` event says why and the stream ends (EventSource reconnects)."""
    topic = context.settings.topic_alerts
    try:
        async for alert in follow_alerts(context.settings, context.stopping):
            if alert is None:
                yield ServerSentEvent(event="ready", data={"topic": topic})
            elif rule is None or alert.rule == rule:
                yield ServerSentEvent(event="alert", id=alert.id, data=alert)
    except KafkaError as error:
        log.warning("alert stream: cannot follow %s: %s: %s", topic, type(error).__name__, error)
        yield ServerSentEvent(event="unavailable", data={"detail": f"cannot follow {topic}: Kafka did not answer"})
