"""`newsstream deadletter …`: see what could not be processed, and feed it back after a fix."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsstream.settings import Settings, get_settings
from clients.kafka import read_topic
from schemas import DeadLetter

deadletter_app = typer.Typer(no_args_is_help=True, help="Messages that could not be processed, with the reason.")
err = Console(stderr=True)


def read_dead_letters(settings: Settings) -> Iterator[DeadLetter]:
    """Every dead letter currently in the topic, oldest first per partition."""
    for record in read_topic(settings.kafka, settings.topic_deadletter):
        yield DeadLetter.model_validate_json(record.value)


@deadletter_app.command("list")
def list_dead_letters(
    stage: Annotated[Optional[str], typer.Option(help="only those from this stage (validate, clean, …)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object a line")] = False,
) -> None:
    """List dead letters: when, which stage, why, and the start of the original message."""
    letters = [letter for letter in read_dead_letters(get_settings()) if stage in (None, letter.stage)]
    if as_json:
        for letter in letters:
            print(letter.model_dump_json())
        return
    table = Table("failed at", "stage", "error", "message", "where")
    for letter in letters:
        table.add_row(f"{letter.failed_at:%Y-%m-%d %H:%M:%S}", letter.stage, escape(letter.error[:120]),
                      escape(repr(letter.payload[:60])), f"{letter.topic}[{letter.partition}]@{letter.offset}")
    Console().print(table)
    err.print(f"{len(letters)} dead letter(s)")


@deadletter_app.command("replay")
def replay_dead_letters(
    stage: Annotated[Optional[str], typer.Option(help="only those from this stage")] = None,
) -> None:
    """Feed the original messages back into articles.raw (after a fix); failures come back here."""
    from clients.kafka import make_producer

    settings = get_settings()
    letters = [letter for letter in read_dead_letters(settings) if stage in (None, letter.stage)]
    producer = make_producer(settings.kafka)
    for letter in letters:
        producer.send(settings.topic_raw, key=letter.key.encode() if letter.key else None, value=letter.payload)
    producer.flush()
    producer.close()
    err.print(f"replayed {len(letters)} message(s) into {settings.topic_raw}")
