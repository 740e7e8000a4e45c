"""`newsstream stack up|down|status`: the local Kafka and Elasticsearch (deploy/)."""
from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Annotated, TypeVar

import typer

from deploy import stack
from deploy.console import say
from deploy.errors import StackError
from deploy.status import ServiceStatus
from newsstream.provision import provision
from newsstream.settings import get_settings

stack_app = typer.Typer(
    help="Fetch, start, check and stop the local Kafka and Elasticsearch (under NEWSSTREAM_STATE_DIR).",
    no_args_is_help=True,
)

Command = TypeVar("Command", bound=Callable[..., None])


def _one_line_errors(command: Command) -> Command:
    """A StackError ends the command with `error: <message>` and exit status 1, without a traceback."""
    @wraps(command)
    def run(*args, **kwargs):
        try:
            command(*args, **kwargs)
        except StackError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
    return run  # type: ignore[return-value]


def _print_table(statuses: list[ServiceStatus]) -> None:
    for service in statuses:
        typer.echo(f"{service.name:<14} {service.version:<8} {service.address:<24} {'up' if service.up else 'down'}")


@stack_app.command()
@_one_line_errors
def up() -> None:
    """Start Kafka and Elasticsearch (fetching them on first use) and create the project's topics and indices."""
    settings = get_settings()
    statuses = stack.up(settings.stack)
    created = provision(settings).topics_created
    if created:
        say("kafka: created topics " + ", ".join(created))
    _print_table(statuses)


@stack_app.command()
@_one_line_errors
def down() -> None:
    """Stop both services; nothing is left running."""
    stack.down(get_settings().stack)


@stack_app.command()
@_one_line_errors
def status(
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list of {name, version, address, status}.")] = False,
) -> None:
    """Show each service's version, address and whether it is up. Exit status 0 either way."""
    statuses = stack.status(get_settings().stack)
    if as_json:
        typer.echo(json.dumps([service.as_json() for service in statuses]))
    else:
        _print_table(statuses)
