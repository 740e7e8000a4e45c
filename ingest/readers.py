"""Articles from files: JSON Lines (one article a line) or plain-text wire dumps."""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson
from pydantic import ValidationError

from ingest.wiredump import split_wire_dump
from schemas import RawArticle


@dataclass(frozen=True)
class InputError:
    """A line of the input that is not an article, with where and why."""

    line: int
    reason: str


def looks_like_jsonl(first_text: str) -> bool:
    return first_text.lstrip().startswith("{")


def read_jsonl(lines: Iterable[str]) -> Iterator[RawArticle | InputError]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
            if not isinstance(data, dict):
                raise TypeError(f"expected a JSON object, got {type(data).__name__}")
            yield RawArticle.model_validate(data)
        except (orjson.JSONDecodeError, TypeError) as error:
            yield InputError(number, str(error))
        except ValidationError as error:
            yield InputError(number, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()))


def read_articles(stream: IO[str], name: str = "-") -> Iterator[RawArticle | InputError]:
    """Reads JSON Lines when the input starts with `{`, a wire dump otherwise."""
    first = stream.readline()
    while first and not first.strip():
        first = stream.readline()
    if looks_like_jsonl(first):
        yield from read_jsonl(itertools.chain([first], stream))
    else:
        yield from split_wire_dump(first + stream.read(), source=None if name == "-" else Path(name).name)
