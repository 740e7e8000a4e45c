"""What the command modules share: the error console, one-line failures, opening an input."""
from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO, Annotated, NoReturn, Optional

import typer
from rich.console import Console

console = Console(stderr=True)

# A look-back option shared by the commands that list what happened recently.
Since = Annotated[Optional[str], typer.Option(help="only from this long ago (30s, 15m, 2h, 7d)")]
JsonLines = Annotated[bool, typer.Option("--json", help="one JSON object a line")]


def fail(message: str) -> NoReturn:
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


def parse_duration(text: str) -> timedelta:
    found = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not found:
        raise typer.BadParameter("a duration like 30s, 15m, 2h or 7d")
    return timedelta(seconds=int(found[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[found[2]])
