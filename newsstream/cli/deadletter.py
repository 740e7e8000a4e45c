"""`newsstream deadletter …`: see what could not be processed, and feed it back after a fix."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clients.kafka import read_topic
from newsstream.cli.common import JsonLines, Since, parse_duration
from newsstream.settings import Settings, get_settings
from schemas import DeadLetter

deadletter_app = typer.Typer(no_args_is_help=True, help="Messages that could not be processed, with the reason.")
err = Console(stderr=True)


@dataclass(frozen=True)
class StoredLetter:
    """A dead letter and where it sits in the dead-letter topic (its replay key)."""

    key: str
    letter: DeadLetter


def read_dead_letters(settings: Settings) -> Iterator[StoredLetter]:
    """Every dead letter currently in the topic, oldest first per partition."""
    for record in read_topic(settings.kafka, settings.topic_deadletter):
        yield StoredLetter(f"{record.partition}:{record.offset}", DeadLetter.model_validate_json(record.value))


def selected(letters: Iterator[StoredLetter], stage: str | None, since: datetime | None) -> list[StoredLetter]:
    return [stored for stored in letters
            if stage in (None, stored.letter.stage) and (since is None or stored.letter.failed_at >= since)]


def _since(duration: str | None) -> datetime | None:
    return datetime.now(timezone.utc) - parse_duration(duration) if duration else None


@deadletter_app.command("list")
def list_dead_letters(
    stage: Annotated[Optional[str], typer.Option(help="only those from this stage (validate, clean, …)")] = None,
    since: Since = None,
    as_json: JsonLines = False,
) -> None:
    """List dead letters: when, which stage, why, and the start of the original message."""
    letters = [stored.letter for stored in selected(read_dead_letters(get_settings()), stage, _since(since))]
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
    since: Since = None,
    again: Annotated[bool, typer.Option("--again", help="also those replayed before")] = False,
) -> None:
    """Feed the original messages back into articles.raw (after a fix); failures come back here.
    Each letter is replayed once: those already replayed are skipped unless --again."""
    from kafka.errors import KafkaError

    from clients.kafka import CompactedTable, make_producer

    settings = get_settings()
    replayed = CompactedTable(settings.kafka, settings.topic_deadletter_replayed)
    done = set() if again else set(replayed.read_all())
    chosen = selected(read_dead_letters(settings), stage, _since(since))
    letters = [stored for stored in chosen if stored.key not in done]
    producer = make_producer(settings.kafka, max_block_ms=10_000)
    delivered, failed = [], []

    def report(stored: StoredLetter, error: Exception) -> None:
        failed.append(stored)
        err.print(f"[red]not replayed[/] {stored.key} ({stored.letter.stage}): {type(error).__name__}: {error}")

    sends = []
    for stored in letters:
        try:  # a missing topic or a full buffer raises here, a refused message in the future
            sends.append((stored, producer.send(settings.topic_raw, value=stored.letter.payload,
                                                key=stored.letter.key.encode() if stored.letter.key else None)))
        except KafkaError as error:
            report(stored, error)
    producer.flush()
    for stored, future in sends:
        try:
            future.get(timeout=60)
            delivered.append(stored)
        except KafkaError as error:
            report(stored, error)
    producer.close()
    replayed.put({stored.key: stored.letter.failed_at.isoformat().encode() for stored in delivered})
    replayed.close()
    skipped = len(chosen) - len(letters)
    err.print(f"replayed {len(delivered)} message(s) into {settings.topic_raw}" + (f", {len(failed)} failed" if failed else "")
              + (f", {skipped} skipped as replayed before (--again replays them too)" if skipped else ""))
    if failed:
        raise typer.Exit(1)
