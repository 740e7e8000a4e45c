"""`newsstream ingest | enrich | search | get | schema`: articles in, and what became of them."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import orjson
import typer

from newsstream.cli.common import console, fail, open_input
from newsstream.settings import get_settings


def register(app: typer.Typer) -> None:
    for command in (ingest, enrich, search, get, schema):
        app.command()(command)


def ingest(
    path: Annotated[str, typer.Argument(help="JSON Lines file, plain-text wire dump, or - for stdin")],
    as_json: Annotated[bool, typer.Option("--json", help="print the ids sent as JSON")] = False,
) -> None:
    """Read articles and produce them to articles.raw (acks=all, idempotent, keyed by stable id)."""
    from rich.progress import Progress

    from clients.kafka import make_producer
    from ingest.producer import produce_articles
    from ingest.readers import InputError, read_articles

    settings = get_settings()
    with open_input(path) as stream:
        items = list(read_articles(stream, name=path))
    articles = [item for item in items if not isinstance(item, InputError)]
    errors = [item for item in items if isinstance(item, InputError)]
    for error in errors:
        console.print(f"[yellow]skipped line {error.line}:[/] {error.reason}")
    try:
        producer = make_producer(settings.kafka)
    except Exception as error:  # noqa: BLE001 - the broker address is the usual cause
        fail(f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: {error}")
    with Progress(console=console, transient=True, disable=len(articles) < 200) as progress:
        task = progress.add_task("sending", total=len(articles))
        ids = produce_articles(producer, settings.topic_raw, articles, on_sent=lambda _: progress.advance(task))
    producer.close()
    if as_json:
        print(json.dumps({"sent": len(ids), "skipped": len(errors), "ids": ids}))
    else:
        console.print(f"sent {len(ids)} article(s) to {settings.topic_raw}" + (f", skipped {len(errors)}" if errors else ""))
    if errors and not ids:
        raise typer.Exit(1)


def enrich(
    path: Annotated[str, typer.Argument(help="JSON Lines file, wire dump, or - for stdin")],
    as_json: Annotated[bool, typer.Option("--json", help="print the enriched articles as JSON Lines")] = False,
) -> None:
    """Run the pipeline's stages in-process (no Kafka, no Elasticsearch)."""
    from ingest.producer import encode_article
    from ingest.readers import InputError, read_articles
    from newsstream.render import render_article
    from processors.pipeline import process_messages
    from schemas import DeadLetter

    with open_input(path) as stream:
        items = list(read_articles(stream, name=path))
    for item in items:
        if isinstance(item, InputError):
            console.print(f"[yellow]skipped line {item.line}:[/] {item.reason}")
    payloads = [encode_article(item) for item in items if not isinstance(item, InputError)]
    for outcome in process_messages(payloads, get_settings().pipeline):
        if isinstance(outcome, DeadLetter):
            console.print(f"[yellow]dead letter ({outcome.stage}):[/] {outcome.error}")
        elif as_json:
            sys.stdout.write(outcome.model_dump_json() + "\n")
        else:
            render_article(outcome)


def search(
    query: Annotated[str, typer.Argument(help="words to find; * lists everything")],
    lang: Annotated[Optional[str], typer.Option(help="only articles in this language")] = None,
    entity: Annotated[Optional[str], typer.Option(help="only articles naming this entity: its id (Q142, "
                                                  "per:vladimir-putin) or any of its names, in any language")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    every_article: Annotated[bool, typer.Option("--all", help="every article, not one per story")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search titles and bodies, language-aware (sanction finds sanctions); one hit per story, its
    other articles listed with it."""
    from clients.elasticsearch import make_client
    from newsstream.search import search_articles
    from processors.linking import load_knowledge_base

    settings = get_settings()
    kb = load_knowledge_base(settings.pipeline.knowledge_base) if entity else None
    hits = search_articles(make_client(settings.elasticsearch), settings.index_articles, query, settings.language_set,
                           lang=lang, entity=entity, size=limit, kb=kb, collapse=not every_article)
    if as_json:
        print(json.dumps([hit.model_dump() for hit in hits], ensure_ascii=False))
        return
    from newsstream.render import render_hits

    render_hits(hits, query)


def get(article_id: Annotated[str, typer.Argument(metavar="ID")], as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print one enriched article."""
    from clients.elasticsearch import make_client
    from processors.index import article_from_document

    settings = get_settings()
    response = make_client(settings.elasticsearch).options(ignore_status=404).get(index=settings.index_articles, id=article_id)
    if not response.get("found"):
        fail(f"no article with id {article_id}")
    article = article_from_document(response["_source"])
    if as_json:
        print(article.model_dump_json())
        return
    from newsstream.render import render_article

    render_article(article)


def schema(out: Annotated[Optional[Path], typer.Option(help="write one .json file per model here")] = None) -> None:
    """Export the JSON Schema of the article and dead-letter models."""
    from schemas import DeadLetter, EnrichedArticle, RawArticle

    schemas = {model.__name__: model.model_json_schema() for model in (RawArticle, EnrichedArticle, DeadLetter)}
    if out is None:
        print(json.dumps(schemas, indent=2))
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, document in schemas.items():
        (out / f"{name}.json").write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    console.print(f"wrote {len(schemas)} schemas to {out}")
