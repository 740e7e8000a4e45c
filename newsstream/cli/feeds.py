"""`newsstream feeds …`: poll RSS/Atom sources into articles.raw, once or for ever, and show their state."""
from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ingest.feeds.fetch import Validators
from ingest.feeds.report import PollReport
from ingest.feeds.sources import FeedSource, SourcesError, load_sources
from newsstream.settings import Settings, get_settings

if TYPE_CHECKING:  # imported where used: kafka-python and trafilatura take a while to load
    from ingest.feeds.poller import FeedPoller

feeds_app = typer.Typer(no_args_is_help=True, help="Live RSS/Atom feeds: each new article once, with its page's text.")
err = Console(stderr=True)

SourcesOption = Annotated[
    Optional[Path], typer.Option("--sources", help="the sources file (TOML); default: NEWSSTREAM_FEEDS_SOURCES"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON on stdout")]


@feeds_app.command("once")
def once(sources: SourcesOption = None, as_json: JsonOption = False) -> None:
    """Poll every source once, then exit (for cron). Exits 1 when every source failed."""
    settings = get_settings()
    loaded = _load(sources or settings.feeds_sources)
    with _poller(settings) as poller:
        reports = poller.poll_all(loaded, on_report=_show)
    sent = sum(report.sent for report in reports)
    failed = [report for report in reports if not report.ok]
    err.print(f"sent {sent} new article(s) to {settings.topic_raw}; {len(failed)} of {len(reports)} source(s) failed")
    if as_json:
        print(json.dumps([report.model_dump(mode="json") for report in reports], ensure_ascii=False))
    if failed and len(failed) == len(reports):
        raise typer.Exit(1)


@feeds_app.command("run")
def run(sources: SourcesOption = None) -> None:
    """Poll each source at its own interval until Ctrl-C (or SIGTERM), which stops after the current source."""
    from ingest.feeds.poller import run_forever

    settings = get_settings()
    loaded = _load(sources or settings.feeds_sources)
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        with _poller(settings) as poller:
            run_forever(poller, loaded, stop, on_report=_show)
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None
    err.print("stopped")


@feeds_app.command("status")
def status(as_json: JsonOption = False) -> None:
    """Each source's last poll: when, HTTP status, entries new and sent, errors, validators kept."""
    from ingest.feeds.state import SourceStates
    from clients.kafka import CompactedTable, TableError

    settings = get_settings()
    try:
        states = SourceStates(CompactedTable(settings.kafka, settings.topic_feeds_state)).all()
    except TableError as error:
        _fail(str(error))
    if as_json:
        print(json.dumps([state.model_dump(mode="json") for state in states], ensure_ascii=False))
        return
    table = Table("source", "last poll", "HTTP", "new", "sent", "result", "last success", "validators")
    for state in states:
        report = state.last_report
        if report is None:
            continue
        table.add_row(escape(state.source), f"{report.polled_at:%Y-%m-%d %H:%M:%S}", str(report.status or "-"),
                      str(report.new), str(report.sent), _result(report),
                      f"{state.last_success_at:%Y-%m-%d %H:%M:%S}" if state.last_success_at else "never",
                      _validator_names(state.validators))
    Console().print(table)
    err.print(f"{len(states)} source(s) polled so far")


def _result(report: PollReport) -> str:
    if report.error:
        return f"[red]{escape(report.error)}[/]"
    if report.not_modified:
        return "unchanged"
    warnings = f", {report.warning_count} warning(s)" if report.warning_count else ""
    return f"{report.already_seen} already seen{warnings}"


def _validator_names(validators: Validators) -> str:
    names = [name for name, value in (("ETag", validators.etag), ("Last-Modified", validators.last_modified)) if value]
    return ", ".join(names) or "-"


def _load(path: Path) -> list[FeedSource]:
    try:
        return load_sources(path)
    except SourcesError as error:
        err.print(f"[bold red]error:[/] {escape(str(error))}")
        raise typer.Exit(2) from None


@contextmanager
def _poller(settings: Settings) -> Iterator[FeedPoller]:
    from kafka.errors import KafkaError

    from ingest.feeds.poller import feed_poller
    from clients.kafka import TableError

    try:
        with feed_poller(settings.feeds) as poller:
            err.print(f"{poller.remembered} entries already seen (from {settings.topic_feeds_seen})")
            yield poller
    except (TableError, KafkaError) as error:
        _fail(f"Kafka at {settings.kafka_bootstrap_servers}: {error}")


def _show(report: PollReport) -> None:
    style = "red" if not report.ok else "dim" if report.not_modified else ""
    line = escape(report.summary())
    err.print(f"[dim]{report.polled_at:%H:%M:%S}[/] " + (f"[{style}]{line}[/]" if style else line))
    for warning in report.warnings:
        err.print(f"    [yellow]{escape(warning)}[/]")


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # asked twice: leave now
        stop.set()
        err.print(f"{signal.Signals(signum).name}: stopping after the current source (Ctrl-C again to leave now)")

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1)


if __name__ == "__main__":  # `python -m newsstream.cli.feeds`, as the tests call it
    feeds_app()
