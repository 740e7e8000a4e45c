"""`newsstream alerts …`: manage rules, try a query on stored articles, follow alerts."""
from __future__ import annotations

import json
from contextlib import nullcontext
from datetime import datetime, timezone
from typing import Annotated, Any, Optional
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape

from newsstream.settings import get_settings
from newsstream.cli.common import JsonLines, Since, parse_duration
from newsstream.render import render_alert
from newsstream.search import stored_alerts, stored_deliveries
from processors.cadence import describe, next_due
from schemas.alerts import Alert

alerts_app = typer.Typer(no_args_is_help=True, help="Keyword alerts matched in the stream.")
out = Console()
err = Console(stderr=True)


def _es() -> Any:
    from clients.elasticsearch import make_client

    return make_client(get_settings().elasticsearch)


@alerts_app.command("add")
def add_rule(
    name: Annotated[str, typer.Argument(help="the rule's name (letters, digits, space, _ . -)")],
    query: Annotated[str, typer.Option("--query", "-q", help='e.g. sanctions, "oil embargo", (EU OR NATO) AND NOT sport')],
    lang: Annotated[Optional[str], typer.Option(help="only articles in this language")] = None,
    entity: Annotated[Optional[str], typer.Option(help="only articles naming this entity: an id (Q142) or a "
                                                  "name, in any language (saved as its id when known)")] = None,
    source: Annotated[Optional[str], typer.Option(help="only articles from this source")] = None,
    webhook: Annotated[Optional[str], typer.Option(help="POST each alert to this URL as JSON, signed when "
                                                   "NEWSSTREAM_WEBHOOK_SECRET is set")] = None,
    slack: Annotated[Optional[str], typer.Option(help="post each alert to this Slack or Mattermost incoming "
                                                 "webhook")] = None,
    email: Annotated[Optional[list[str]], typer.Option(help="mail each alert to this address (repeatable), "
                                                       "through NEWSSTREAM_SMTP_HOST")] = None,
    throttle: Annotated[Optional[int], typer.Option(min=1, max=1000, help="at most this many messages per channel "
                                                    "in each clock hour; the rest are listed in the next")] = None,
    digest: Annotated[Optional[str], typer.Option(help="send the matches together: hourly or daily (at --at, "
                                                  "in --tz) instead of as they happen")] = None,
    at: Annotated[str, typer.Option(help="a daily digest's time (HH:MM); an hourly one's minute (00:MM)")] = "08:00",
    tz: Annotated[str, typer.Option(help="the digest's time zone, e.g. Europe/Paris")] = "UTC",
    suggest: Annotated[bool, typer.Option("--suggest", help="propose the query's words in the other languages, "
                                          "from the stored stories it matches, to accept one language at a time")
                       ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="with --suggest: accept every proposal")] = False,
) -> None:
    """Add (or replace) a rule; every running worker applies it within a second."""
    from pydantic import ValidationError

    from processors.alerts import InvalidRuleQuery, compile_query
    from processors.linking import load_knowledge_base, with_entity_resolved
    from processors.rulebook import InvalidRule, publish_rule
    from schemas.alerts import Digest, Rule

    settings = get_settings()
    try:
        if digest not in (None, "hourly", "daily"):
            raise InvalidRule(f"--digest is hourly or daily, not {digest!r}")
        cadence = Digest(every="hour" if digest == "hourly" else "day", at=at, tz=tz) if digest else None
        if suggest:
            compile_query(query, settings.language_set)  # a broken query is refused before anything is asked
            query = _with_accepted_suggestions(query, settings, yes)
        rule = Rule(name=name, query=query, lang=lang, entity=entity, source=source, webhook=webhook, slack=slack,
                    email=email or [], throttle=throttle, digest=cadence)
        if rule.entity:
            rule = with_entity_resolved(rule, load_knowledge_base(settings.pipeline.knowledge_base))
            if rule.entity_name:
                err.print(f"entity {escape(entity or '')!r} is [bold]{escape(rule.entity_name)}[/] ({rule.entity})")
        publish_rule(settings.rules, rule)
    except InvalidRuleQuery as error:
        err.print(f"[bold red]invalid query:[/] {escape(str(error))}")
        raise typer.Exit(2) from None
    except InvalidRule as error:
        err.print(f"[bold red]invalid rule:[/] {escape(str(error))}")
        raise typer.Exit(2) from None
    except ValidationError as error:
        # A rule-level error (two cadences) has no field.
        reasons = "; ".join(f"{e['loc'][0]}: {e['msg']}" if e["loc"] else e["msg"] for e in error.errors())
        err.print(f"[bold red]invalid rule:[/] {escape(reasons)}")
        raise typer.Exit(2) from None
    err.print(f"rule [bold]{escape(name)}[/] saved ({describe(rule)}{_next_digest(rule)})")
    if rule.email and settings.mail is None:
        err.print("[yellow]no mail server is configured: set NEWSSTREAM_SMTP_HOST for the workers, or its mail "
                  "deliveries fail (alerts deliveries --failed)[/]")


def _show_suggestions(found: Any) -> None:
    err.print(f"words the {found.stories} stored stories the query matches use in other languages (stories, "
              "articles that have it / articles in that language):")
    for language, suggestions in found.by_language.items():
        words = ", ".join(f"{escape(s.word)} [dim]({s.stories}, {s.articles}/{s.of_articles})[/]" for s in suggestions)
        err.print(f"  [bold]{language}[/]: {words}")
    if found.covered:
        err.print(f"  [dim]the query matches articles in {', '.join(found.covered)} already[/]")


def _with_accepted_suggestions(query: str, settings: Any, accept_all: bool) -> str:
    """The query with the proposals the author accepts, per language, added in the rule syntax."""
    import sys

    from newsstream.suggest import suggest_words
    from processors.alerts import expanded_query

    found = suggest_words(_es(), settings.index_articles, query, settings.language_set)
    if not found.by_language:
        err.print("[yellow]no suggestions: no stored story the query matches has articles in other languages "
                  "it misses[/]")
        return query
    _show_suggestions(found)
    if not accept_all and not sys.stdin.isatty():
        err.print("[yellow]not a terminal: nothing added (run with --yes to accept them all)[/]")
        return query
    accepted = {language: [s.word for s in suggestions] for language, suggestions in found.by_language.items()
                if accept_all or typer.confirm(f"add {language}: {', '.join(s.word for s in suggestions)}?")}
    expanded = expanded_query(query, accepted)
    if expanded != query:
        err.print(f"query: [bold]{escape(expanded)}[/]")
    return expanded


def _next_digest(rule: Any) -> str:
    if rule.digest is None:
        return ""
    due = next_due(rule.digest, datetime.now(timezone.utc)).astimezone(ZoneInfo(rule.digest.tz))
    return f", next {due:%d %b %H:%M}"


@alerts_app.command("rm")
def remove_rule(name: str) -> None:
    """Remove a rule."""
    from processors.rulebook import delete_rule

    if not delete_rule(get_settings().rules, name):
        err.print(f"[yellow]no rule named {escape(name)}[/]")
        raise typer.Exit(1)
    err.print(f"rule [bold]{escape(name)}[/] removed")


@alerts_app.command("list")
def list_rules_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the rules."""
    from rich.table import Table

    from processors.rulebook import list_rules, shown

    rules = [shown(rule) for rule in list_rules(get_settings().rules)]
    if as_json:
        print(json.dumps([rule.model_dump(mode="json") for rule in rules], ensure_ascii=False))
        return
    table = Table("name", "query", "lang", "entity", "source", "webhook", "slack", "email", "delivery")
    for rule in rules:
        table.add_row(*(escape(str(v or "")) for v in (rule.name, rule.query, rule.lang, rule.entity, rule.source,
                                                       rule.webhook, rule.slack, ", ".join(rule.email),
                                                       describe(rule) + _next_digest(rule))))
    out.print(table)


@alerts_app.command("deliveries")
def deliveries(
    rule: Annotated[Optional[str], typer.Option(help="only this rule's deliveries")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="only those given up, with the reason")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonLines = False,
) -> None:
    """The delivery log, latest change first: each alert sent to each of its rule's channels."""
    from rich.table import Table

    settings = get_settings()
    found = stored_deliveries(_es(), settings.index_alert_deliveries, rule, failed, limit)
    if as_json:
        for delivery in found:
            print(delivery.model_dump_json())
        return
    if not found:
        err.print("no deliveries" + (" failed" if failed else "") + (f" for rule {escape(rule)}" if rule else ""))
        return
    table = Table("updated", "rule", "channel", "target", "status", "attempts", "latency", "reason")
    for d in found:
        table.add_row(f"{d.updated_at:%Y-%m-%d %H:%M:%S}", escape(d.rule), d.channel, escape(d.target), d.status,
                      str(d.attempts), f"{d.latency_ms / 1000:.1f} s" if d.latency_ms is not None else "",
                      escape(d.reason or ""))
    out.print(table)


@alerts_app.command("suggest")
def suggest_command(
    query: Annotated[str, typer.Option("--query", "-q")],
    per_language: Annotated[int, typer.Option(min=1, max=20)] = 3,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Words for the query in the other languages: what the stored stories it matches say in them."""
    from newsstream.suggest import suggest_words

    settings = get_settings()
    found = suggest_words(_es(), settings.index_articles, query, settings.language_set, per_language=per_language)
    if as_json:
        print(found.model_dump_json())
        return
    if not found.by_language:
        err.print("no suggestions: no stored story the query matches has articles in other languages it misses")
    _show_suggestions(found)


@alerts_app.command("test")
def test_query(
    query: Annotated[str, typer.Option("--query", "-q")],
    lang: Annotated[Optional[str], typer.Option()] = None,
    entity: Annotated[Optional[str], typer.Option()] = None,
    limit: Annotated[int, typer.Option(help="show at most this many matches")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show which stored articles a query would match, with the same engine as the stream."""
    from newsstream.search import stored_matches
    from processors.alerts import InvalidRuleQuery, RuleIndex
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
        for article, match in stored_matches(es, settings.index_articles, index, lang):
            matches.append({"id": article.id, "title": article.title, "language": article.language,
                            "matched_terms": sorted(match.matched_terms)})
    if as_json:
        print(json.dumps(matches[:limit], ensure_ascii=False))
        return
    err.print(f"{len(matches)} stored article(s) match")
    for match in matches[:limit]:
        out.print(f"  {match['id']}  [bold]{escape(match['title'])}[/]  [dim]{', '.join(match['matched_terms'])}[/]")


@alerts_app.command("tail")
def tail(
    rule: Annotated[Optional[str], typer.Option(help="only this rule's alerts")] = None,
    since: Since = None,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="keep printing new alerts")] = True,
    as_json: JsonLines = False,
) -> None:
    """Print stored alerts, then follow new ones as they arrive (like tail -f)."""
    from clients.kafka import follow_topic

    settings = get_settings()
    shown: set[str] = set()

    def show(alert: Alert) -> None:
        if alert.id not in shown and (rule is None or alert.rule == rule):
            shown.add(alert.id)
            render_alert(alert, as_json)

    # Positioned at the topic's end before the index is read, so nothing falls in between.
    with follow_topic(settings.kafka, settings.topic_alerts) if follow else nullcontext() as poll:
        for alert in stored_alerts(_es(), settings.index_alerts, rule, parse_duration(since) if since else None):
            show(alert)
        try:
            while poll is not None:
                for record in poll(500):
                    show(Alert.model_validate_json(record.value))
        except KeyboardInterrupt:
            pass
