"""Split a plain-text wire dump (several articles pasted one after another) into raw articles.

An article ends with its credit line (`Text by 20 Minutes with AFP`, `RTS afp/fgn`, `20min.ch`) and the
next one starts with a title: a single short line. Subheadings look like titles too; what tells them
apart is that a title follows a credit line (or a separator such as `---`, or the start of the dump).
Bodies are kept as written, credit lines included: cleaning is the clean stage's job.
"""
from __future__ import annotations

import re

from processors.clean import is_credit_line, is_junk_line
from schemas.articles import RawArticle

_SEPARATOR_LINE = re.compile(r"^[ \t]*(?:\f|-{3,}|={3,}|_{3,}|#{3,}|~{3,}|(?:\*[ \t]*){3,})[ \t]*$")
_MAX_TITLE_CHARS = 200
_OPENING_QUOTES = "«\"“„‘'‹¿¡("
# A title has no final period (nor comma, colon…); it may end with ? ! or a closing quote.
_NON_TITLE_ENDINGS = (".", ",", ";", ":")


def is_title_line(line: str) -> bool:
    """A single short line that could head an article: starts like a heading (not in lower case),
    has no final period, and is neither a credit line nor junk."""
    text = " ".join(line.split())
    if not text or len(text) > _MAX_TITLE_CHARS or text.endswith(_NON_TITLE_ENDINGS):
        return False
    first = text[0]
    starts_like_heading = (first.isalnum() and not first.islower()) or first in _OPENING_QUOTES
    return starts_like_heading and not is_credit_line(text) and not is_junk_line(text)


def _is_content(line: str) -> bool:
    return bool(line.strip()) and not is_junk_line(line)


def _chunks(text: str) -> list[list[str]]:
    """Lines of the dump cut at explicit separators (`---`, `***`, `====`, form feed)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\f\n").split("\n")
    chunks: list[list[str]] = [[]]
    for line in lines:
        if _SEPARATOR_LINE.match(line):
            chunks.append([])
        else:
            chunks[-1].append(line)
    return chunks


def _article_starts(lines: list[str]) -> list[int]:
    """Indices of the lines that start an article: the first content line, then every title line
    whose previous content line is a credit line and that is followed by more content."""
    content = [index for index, line in enumerate(lines) if _is_content(line)]
    starts = content[:1]
    for previous, current, following in zip(content, content[1:], content[2:]):
        if is_credit_line(lines[previous]) and is_title_line(lines[current]) and not is_credit_line(lines[following]):
            starts.append(current)
    return starts


def _titled(lines: list[str]) -> tuple[str, str]:
    """(title, body) of one article's lines, which start with content; no title when the first
    line is not title-like or nothing follows it."""
    first, rest = lines[0], "\n".join(lines[1:]).strip()
    if is_title_line(first) and rest:
        return " ".join(first.split()), rest
    return "", "\n".join(lines).strip()


def split_wire_dump(text: str, source: str | None = None) -> list[RawArticle]:
    """The articles of a dump, in order; junk before the first article's title is dropped, bodies
    are otherwise as written (credit lines included)."""
    articles: list[RawArticle] = []
    for lines in _chunks(text):
        starts = _article_starts(lines)
        for start, end in zip(starts, [*starts[1:], len(lines)]):
            title, body = _titled(lines[start:end])
            articles.append(RawArticle(source=source, title=title, body=body))
    return articles
