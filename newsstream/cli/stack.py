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
from newsstream.settings import Settings, get_settings

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


Profile = Annotated[str | None, typer.Option(
    "--profile", help="single (one broker, one node) or cluster (3 brokers, 2 nodes, replicated topics and "
                      "indices, on ports of their own); default NEWSSTREAM_STACK_PROFILE, else single.")]


def _settings(profile: str | None) -> Settings:
    return get_settings() if profile is None else Settings(stack_profile=profile)


def _print_table(statuses: list[ServiceStatus]) -> None:
    for node in statuses:
        typer.echo(f"{node.name:<16} {node.version:<8} {node.address:<24} {'up' if node.up else 'down':<5} {node.role}")
    health = {node.service: node.health for node in statuses if node.health}
    for service, cluster_health in health.items():
        typer.echo(f"{service} cluster: {cluster_health}")


@stack_app.command()
@_one_line_errors
def up(profile: Profile = None) -> None:
    """Start Kafka and Elasticsearch (fetching them on first use) and create the project's topics and indices."""
    settings = _settings(profile)
    statuses = stack.up(settings.stack)
    created = provision(settings).topics_created
    if created:
        say("kafka: created topics " + ", ".join(created))
    _print_table(statuses)


@stack_app.command()
@_one_line_errors
def down(profile: Profile = None) -> None:
    """Stop both services, every node; nothing is left running."""
    stack.down(_settings(profile).stack)


@stack_app.command()
@_one_line_errors
def status(
    as_json: Annotated[bool, typer.Option(
        "--json", help="A JSON list of {service, name, version, address, status, role, health}.")] = False,
    profile: Profile = None,
) -> None:
    """Show each node's version, address, whether it is up and its roles, and each cluster's health.
    Exit status 0 either way."""
    statuses = stack.status(_settings(profile).stack)
    if as_json:
        typer.echo(json.dumps([service.as_json() for service in statuses]))
    else:
        _print_table(statuses)
