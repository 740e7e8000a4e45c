"""The `newsstream` command."""
from __future__ import annotations

import typer

from clients.redact import install_log_redaction

from newsstream.cli import articles, service
from newsstream.cli.alerts import alerts_app
from newsstream.cli.deadletter import deadletter_app
from newsstream.cli.entities import entities_app
from newsstream.cli.feeds import feeds_app
from newsstream.cli.measure import measure_app
from newsstream.cli.stack import stack_app
from newsstream.cli.stories import stories_app

install_log_redaction()  # every command's log lines, before any client is made

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Streaming news ingestion: clean, detect "
                  "language, tag entities, index for search, alert on keywords.")
articles.register(app)
service.register(app)
app.add_typer(stack_app, name="stack", help="Start, stop and inspect the local Kafka and Elasticsearch.")
app.add_typer(alerts_app, name="alerts")
app.add_typer(deadletter_app, name="deadletter")
app.add_typer(entities_app, name="entities")
app.add_typer(stories_app, name="stories")
app.add_typer(feeds_app, name="feeds", help="Poll RSS/Atom sources into articles.raw.")
app.add_typer(measure_app, name="measure", help="Benchmarks and evaluations (need the corpora or the stack).")
