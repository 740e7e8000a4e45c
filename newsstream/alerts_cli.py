"""`newsstream alerts …`: manage rules, try a query on stored articles, follow alerts."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from newsstream.settings import get_settings

alerts_app = typer.Typer(no_args_is_help=True, help="Keyword alerts matched in the stream.")
out = Console()
err = Console(stderr=True)


def _es():
    from newsstream.cli import elasticsearch_client

    return elasticsearch_client()


@alerts_app.command("add")
def add_rule(
    name: Annotated[str, typer.Argument(help="the rule's name (letters, digits, space, _ . -)")],
    query: Annotated[str, typer.Option("--query", "-q", help='e.g. sanctions, "oil embargo", (EU OR NATO) AND NOT sport')],
    lang: Annotated[Optional[str], typer.Option(help="only articles in this language")] = None,
    entity: Annotated[Optional[str], typer.Option(help="only articles naming this entity")] = None,
    source: Annotated[Optional[str], typer.Option(help="only articles from this source")] = None,
    webhook: Annotated[Optional[str], typer.Option(help="POST each alert to this URL")] = None,
) -> None:
    """Add (or replace) a rule; every running worker applies it within a second."""
    from pydantic import ValidationError

    from processors.alerts import InvalidRuleQuery
    from processors.rulebook import publish_rule
    from schemas.alerts import Rule

    try:
        rule = Rule(name=name, query=query, lang=lang, entity=entity, source=source, webhook=webhook)
        publish_rule(get_settings(), _es(), rule)
    except InvalidRuleQuery as error:
        err.print(f"[bold red]invalid query:[/] {escape(str(error))}")
        raise typer.Exit(2) from None
    except ValidationError as error:
        reasons = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
        err.print(f"[bold red]invalid rule:[/] {escape(reasons)}")
        raise typer.Exit(2) from None
    err.print(f"rule [bold]{escape(name)}[/] saved")


@alerts_app.command("rm")
def remove_rule(name: str) -> None:
    """Remove a rule."""
    from processors.rulebook import delete_rule

    if not delete_rule(get_settings(), _es(), name):
        err.print(f"[yellow]no rule named {escape(name)}[/] (a removal was published anyway)")
        raise typer.Exit(1)
    err.print(f"rule [bold]{escape(name)}[/] removed")


@alerts_app.command("list")
def list_rules_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the rules."""
    from rich.table import Table

    from processors.rulebook import list_rules

    rules = list_rules(get_settings(), _es())
    if as_json:
        print(json.dumps([rule.model_dump(mode="json") for rule in rules], ensure_ascii=False))
        return
    table = Table("name", "query", "lang", "entity", "source", "webhook")
    for rule in rules:
        table.add_row(*(escape(str(v or "")) for v in (rule.name, rule.query, rule.lang, rule.entity, rule.source, rule.webhook)))
    out.print(table)


@alerts_app.command("test")
def test_query(
    query: Annotated[str, typer.Option("--query", "-q")],
    lang: Annotated[Optional[str], typer.Option()] = None,
    entity: Annotated[Optional[str], typer.Option()] = None,
    limit: Annotated[int, typer.Option(help="show at most this many matches")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show which stored articles a query would match, with the same engine as the stream."""
    from elasticsearch.helpers import scan

    from processors.alerts import InvalidRuleQuery, RuleIndex
    from processors.index import article_from_document
    from schemas.alerts import Rule

    settings = get_settings()
    index = RuleIndex(settings.language_set)
    try:
        index.add(Rule(name="test", query=query, lang=lang, entity=entity))
    except InvalidRuleQuery as error:
        err.print(f"[bold red]invalid query:[/] {escape(str(error))}")
        raise typer.Exit(2) from None
    matches = []
    es = _es()
    if es.indices.exists(index=settings.index_articles):
        for hit in scan(es, index=settings.index_articles, query={"query": {"match_all": {}}}):
            article = article_from_document(hit["_source"])
            for match in index.match(article):
                matches.append({"id": article.id, "title": article.title, "language": article.language,
                                "matched_terms": sorted(match.matched_terms)})
    if as_json:
        print(json.dumps(matches[:limit], ensure_ascii=False))
        return
    err.print(f"{len(matches)} stored article(s) match")
    for match in matches[:limit]:
        out.print(f"  {match['id']}  [bold]{escape(match['title'])}[/]  [dim]{', '.join(match['matched_terms'])}[/]")


def parse_duration(text: str) -> timedelta:
    found = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not found:
        raise typer.BadParameter("a duration like 30s, 15m, 2h or 7d")
    return timedelta(seconds=int(found[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[found[2]])


@alerts_app.command("tail")
def tail(
    rule: Annotated[Optional[str], typer.Option(help="only this rule's alerts")] = None,
    since: Annotated[Optional[str], typer.Option(help="stored alerts from this long ago (30s, 15m, 2h, 7d)")] = None,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="keep printing new alerts")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object a line")] = False,
) -> None:
    """Print stored alerts, then follow new ones as they arrive (like tail -f)."""
    from kafka import KafkaConsumer, TopicPartition

    from schemas.alerts import Alert

    settings = get_settings()
    consumer = None
    if follow:
        # Remember where the topic ends before reading the index, so nothing falls in between.
        consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
        partitions = [TopicPartition(settings.topic_alerts, p) for p in consumer.partitions_for_topic(settings.topic_alerts) or []]
        consumer.assign(partitions)
        consumer.seek_to_end(*partitions)
        for partition in partitions:
            consumer.position(partition)
    filters = [{"term": {"rule": rule}}] if rule else []
    if since:
        start = datetime.now(timezone.utc) - parse_duration(since)
        filters.append({"range": {"matched_at": {"gte": start.isoformat()}}})
    es = _es()
    shown: set[str] = set()

    def show(alert: Alert) -> None:
        if alert.id in shown or (rule and alert.rule != rule):
            return
        shown.add(alert.id)
        if as_json:
            print(alert.model_dump_json(), flush=True)
        else:
            out.print(f"[dim]{alert.matched_at:%Y-%m-%d %H:%M:%S}[/] [bold magenta]{escape(alert.rule)}[/] "
                      f"[bold]{escape(alert.title)}[/] [dim]({alert.language}, {alert.article_id}; "
                      f"{escape(', '.join(alert.matched_terms))})[/]")

    if es.indices.exists(index=settings.index_alerts):
        response = es.search(index=settings.index_alerts, query={"bool": {"filter": filters}},
                             sort=[{"matched_at": "asc"}], size=10_000)
        for hit in response["hits"]["hits"]:
            show(Alert.model_validate(hit["_source"]))
    if consumer is None:
        return
    try:
        while True:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    show(Alert.model_validate_json(record.value))
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
