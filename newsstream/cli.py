"""The `newsstream` command."""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Iterator, Optional

import orjson
import typer
from rich.console import Console

from deploy.cli import stack_app
from newsstream.alerts_cli import alerts_app
from newsstream.api.cli import run_api
from newsstream.deadletter_cli import deadletter_app
from newsstream.feeds_cli import feeds_app
from newsstream.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.add_typer(stack_app, name="stack", help="Start, stop and inspect the local Kafka and Elasticsearch.")
app.add_typer(alerts_app, name="alerts")
app.add_typer(deadletter_app, name="deadletter")
app.add_typer(feeds_app, name="feeds", help="Poll RSS/Atom sources into articles.raw.")
console = Console(stderr=True)


def fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


@contextmanager
def open_input(path: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdin
        return
    if not Path(path).is_file():
        fail(f"no such file: {path}")
    with open(path, encoding="utf-8", errors="replace") as handle:
        yield handle


def elasticsearch_client():
    from elasticsearch import Elasticsearch

    settings = get_settings()
    key = settings.elasticsearch_api_key
    return Elasticsearch(settings.elasticsearch_url, api_key=key.get_secret_value() if key else None, request_timeout=30)


@app.command()
def ingest(
    path: Annotated[str, typer.Argument(help="JSON Lines file, plain-text wire dump, or - for stdin")],
    as_json: Annotated[bool, typer.Option("--json", help="print the ids sent as JSON")] = False,
) -> None:
    """Read articles and produce them to articles.raw (acks=all, idempotent, keyed by stable id)."""
    from rich.progress import Progress

    from ingest.producer import article_producer, produce_articles
    from ingest.readers import InputError, read_articles

    settings = get_settings()
    with open_input(path) as stream:
        items = list(read_articles(stream, name=path))
    articles = [item for item in items if not isinstance(item, InputError)]
    errors = [item for item in items if isinstance(item, InputError)]
    for error in errors:
        console.print(f"[yellow]skipped line {error.line}:[/] {error.reason}")
    try:
        producer = article_producer(settings)
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


@app.command()
def worker(loglevel: Annotated[str, typer.Option(help="debug, info, warning")] = "info") -> None:
    """Run the Faust agents: articles.raw → clean → language → entities → Elasticsearch."""
    from processors.worker import run_worker

    sys.argv = [sys.argv[0]]  # Faust's worker reads argv; ours are already parsed
    run_worker(get_settings(), loglevel=loglevel)


@app.command()
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
    for outcome in process_messages(payloads):
        if isinstance(outcome, DeadLetter):
            console.print(f"[yellow]dead letter ({outcome.stage}):[/] {outcome.error}")
        elif as_json:
            sys.stdout.write(outcome.model_dump_json() + "\n")
        else:
            render_article(outcome)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="words to find; * lists everything")],
    lang: Annotated[Optional[str], typer.Option(help="only articles in this language")] = None,
    entity: Annotated[Optional[str], typer.Option(help="only articles naming this entity")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search titles and bodies, language-aware (sanction finds sanctions)."""
    from newsstream.search import search_articles

    settings = get_settings()
    hits = search_articles(elasticsearch_client(), settings.index_articles, query, settings.language_set,
                           lang=lang, entity=entity, size=limit)
    if as_json:
        print(json.dumps([hit.model_dump() for hit in hits], ensure_ascii=False))
        return
    from newsstream.render import render_hits

    render_hits(hits, query)


@app.command()
def get(article_id: Annotated[str, typer.Argument(metavar="ID")], as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print one enriched article."""
    from processors.index import article_from_document

    settings = get_settings()
    response = elasticsearch_client().options(ignore_status=404).get(index=settings.index_articles, id=article_id)
    if not response.get("found"):
        fail(f"no article with id {article_id}")
    article = article_from_document(response["_source"])
    if as_json:
        print(article.model_dump_json())
        return
    from newsstream.render import render_article

    render_article(article)


@app.command("eval-ner")
def eval_ner(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    language: Annotated[Optional[str], typer.Option(help="language of the file (default: from its path)")] = None,
    limit: Annotated[Optional[int], typer.Option(help="only the first N sentences")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Exact-span entity precision, recall and F1 of the project's tagging on a gold NER file."""
    from newsstream.evaluate.ner import NerUnavailableError, evaluate_ner, render_ner_report

    try:
        result = evaluate_ner(file, language=language, limit=limit)
    except NerUnavailableError as error:
        fail(str(error))
    print(json.dumps(result) if as_json else render_ner_report(result))


@app.command("eval-langid")
def eval_langid(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Accuracy per language of language detection on a gold file (JSON Lines with text, lang)."""
    from newsstream.evaluate.langid import evaluate_langid, render_langid_report

    result = evaluate_langid(file)
    print(json.dumps(result) if as_json else render_langid_report(result))


@app.command()
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


app.command("api", help="Serve the search API, its docs (/docs) and the analysts' page (/).")(run_api)


@app.command()
def bench(
    articles: Annotated[int, typer.Option(help="articles per measured system")] = 2000,
    corpus: Annotated[Optional[Path], typer.Option(exists=True, dir_okay=False, help="JSON Lines articles (default: the samples)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Throughput and latency: in-process spaCy, a naive consumer and the service, side by side."""
    from newsstream.bench import render_bench, run_bench

    result = run_bench(articles, corpus)
    print(json.dumps(result) if as_json else render_bench(result))


@app.command("bench-alerts")
def bench_alerts(
    rules: Annotated[Optional[list[int]], typer.Option("--rules", help="rule counts to measure (repeatable)")] = None,
    articles: Annotated[int, typer.Option(help="articles matched per rule count")] = 300,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    live: Annotated[bool, typer.Option("--live", help="measure produce-to-alert latency on the stack (JSON)")] = False,
) -> None:
    """Per-article alert matching time for growing rule counts, beside the naive loop over all rules;
    with --live, produce-to-alert latency through the running stack instead."""
    counts = tuple(sorted(rules)) if rules else ((100, 10_000) if live else (100, 10_000, 100_000))
    if live:
        from newsstream.bench_alert_latency import run_alert_latency

        print(json.dumps(run_alert_latency(counts, articles=min(articles, 200))))
        return
    from newsstream.bench_alerts import render_alert_bench, run_alert_bench

    result = run_alert_bench(counts, articles=articles)
    print(json.dumps(result) if as_json else render_alert_bench(result))


@app.command()
def demo() -> None:
    """The README's main job: stack up, a worker, the sample articles in, searches out."""
    from newsstream.demo import run_demo

    run_demo(get_settings(), console)


if __name__ == "__main__":
    app()
