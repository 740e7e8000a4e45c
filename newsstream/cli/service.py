"""`newsstream worker | api | setup | demo`: run the service, or prepare where it runs."""
from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from newsstream.cli.common import console, fail
from newsstream.settings import get_settings


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(api)
    app.command()(setup)
    app.command()(demo)


def worker(loglevel: Annotated[str, typer.Option(help="debug, info, warning")] = "info") -> None:
    """Run the Faust agents: articles.raw → clean → language → entities → Elasticsearch."""
    from processors.knowledge import SHIPPED_GAZETTEER
    from processors.worker import run_worker

    settings = get_settings()
    knowledge_base = settings.pipeline.knowledge_base or SHIPPED_GAZETTEER
    if not knowledge_base.is_file():  # else every article with an entity would be a dead letter
        fail(f"no knowledge base at {knowledge_base} (NEWSSTREAM_KNOWLEDGE_BASE)")
    sys.argv = [sys.argv[0]]  # Faust's worker reads argv; ours are already parsed
    run_worker(settings, loglevel=loglevel)


def api(
    host: Annotated[Optional[str], typer.Option(
        help="address to listen on (default: NEWSSTREAM_API_HOST, 127.0.0.1)")] = None,
    port: Annotated[Optional[int], typer.Option(
        min=1, max=65535, help="port (default: NEWSSTREAM_API_PORT, 8000)")] = None,
) -> None:
    """Serve the search API, the analysts' page at / and the API docs at /docs."""
    from newsstream.api.app import create_api
    from newsstream.api.server import ApiServer

    settings = get_settings()
    ApiServer(create_api(settings), host=host or settings.api_host, port=port or settings.api_port).run()


def setup() -> None:
    """Create the product's topics and indices on the configured Kafka and Elasticsearch (for a
    cluster you bring; `stack up` does it for the local one). Existing ones are left as they are."""
    from kafka.errors import KafkaError

    from newsstream.provision import provision

    settings = get_settings()
    try:
        done = provision(settings)
    except KafkaError as error:
        fail(f"Kafka at {settings.kafka_bootstrap_servers}: {error}")
    created = ", ".join(done.topics_created) or "none (all exist)"
    console.print(f"topics: {len(settings.topics)} declared, created {created}\nindices: {', '.join(done.indices)}")
    if done.story_ids_backfilled:
        console.print(f"{done.story_ids_backfilled} article(s) indexed before stories existed got a story of their own")


def demo() -> None:
    """The README's main job: stack up, a worker, the sample articles in, searches out."""
    from newsstream.demo import run_demo

    run_demo(get_settings(), console)
