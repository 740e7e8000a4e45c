"""Feed bytes → `ParsedFeed`: feedparser reads RSS 0.9x/1.0/2.0 and Atom; each entry gets the
normalised key under which the seen-set remembers it."""
from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from time import struct_time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import feedparser
from feedparser.exceptions import NonXMLContentType
import lxml.html
from lxml import etree
from pydantic import BaseModel

PARAGRAPH_SEPARATOR = "\n\n"
_BLANK_LINE = re.compile(r"\n\s*\n")
_WHITESPACE = re.compile(r"\s+")
_TEXT_BREAKS = (
    "p", "div", "br", "li", "dd", "dt", "tr", "blockquote", "pre", "section", "article", "figure",
    "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "header", "footer", "table", "ul", "ol",
)


class FeedEntry(BaseModel):
    key: str  # what the seen-set remembers: see entry_key
    link: str | None = None  # normalised like the key
    title: str = ""
    summary: str = ""  # plain text, paragraphs separated by a blank line
    published_at: datetime | None = None
    author: str | None = None


class ParsedFeed(BaseModel):
    format: str = ""  # feedparser's name for it: rss20, rss10, rss091u, atom10, …
    title: str = ""
    language: str | None = None
    entries: list[FeedEntry] = []
    problem: str | None = None  # set when the bytes could not be read as a feed at all


def parse_feed(content: bytes, *, source: str, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse fetched bytes (never a URL: feedparser must not fetch anything itself)."""
    headers = {"content-location": url, **({"content-type": content_type} if content_type else {})}
    # A stream, not bytes: feedparser tries bytes as a local file name before reading them as a feed.
    parsed = feedparser.parse(io.BytesIO(content), response_headers=headers, sanitize_html=True)
    if not parsed.entries and not parsed.get("version"):
        reason = parsed.get("bozo_exception")
        detail = f" ({reason})" if reason and not isinstance(reason, NonXMLContentType) else ""
        return ParsedFeed(problem=f"not an RSS or Atom feed{detail}")
    entries = [entry for item in parsed.entries if (entry := _entry(source, item)) is not None]
    return ParsedFeed(format=parsed.get("version") or "", title=parsed.feed.get("title", ""),
                      language=parsed.feed.get("language") or None, entries=entries)


def normalise_url(value: str) -> str:
    """Lowercase scheme and host, no fragment, no utm_* parameters; anything not http(s) unchanged."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return value
    query = "&".join(pair for pair in parts.query.split("&") if pair and not pair.lower().startswith("utm_"))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))


def entry_key(source: str, identifier: str) -> str:
    """The normalised GUID or link. A URL names the same article in any feed, so it is global; an
    opaque GUID ("12345", "urn:uuid:…") is only unique within its feed, so the source prefixes it."""
    normalised = normalise_url(identifier)
    return normalised if normalised.startswith(("http://", "https://")) else f"{source}|{normalised}"


def html_to_text(html: str) -> str:
    """Text of an HTML fragment (a feed summary), one paragraph per block, no scripts or styles."""
    if not html.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return " ".join(html.split())
    for element in list(root.iter("script", "style", "noscript")):
        element.drop_tree()
    for element in root.iter():  # the markup's own line breaks are spaces; only blocks break lines
        element.text = _WHITESPACE.sub(" ", element.text) if element.text else element.text
        element.tail = _WHITESPACE.sub(" ", element.tail) if element.tail else element.tail
    for element in root.iter(*_TEXT_BREAKS):
        element.tail = "\n" + (element.tail or "")
        if element.tag != "br":
            element.text = "\n" + (element.text or "")
    lines = (" ".join(line.split()) for line in root.text_content().split("\n"))
    return PARAGRAPH_SEPARATOR.join(line for line in lines if line)


def _entry(source: str, item: Any) -> FeedEntry | None:
    identifier = item.get("id") or item.get("link")
    if not identifier:
        return None  # nothing to remember it by, nothing to link to
    link = item.get("link")
    return FeedEntry(
        key=entry_key(source, identifier),
        link=normalise_url(link) if link else None,
        title=" ".join(item.get("title", "").split()),
        summary=_entry_text(item),
        # dict.get: feedparser's own get maps a missing updated_parsed to published_parsed, with a warning.
        published_at=_datetime(item.get("published_parsed") or dict.get(item, "updated_parsed")),
        author=item.get("author") or None,
    )


def _entry_text(item: Any) -> str:
    """The longest text the feed gives: full content (content:encoded, atom:content) or the summary."""
    parts = [*item.get("content", []), item.get("summary_detail") or {}]
    longest = max(parts, key=lambda part: len(part.get("value", "")))
    value = longest.get("value", "")
    if "html" in longest.get("type", "text/html"):
        return html_to_text(value)
    paragraphs = (" ".join(paragraph.split()) for paragraph in _BLANK_LINE.split(value))
    return PARAGRAPH_SEPARATOR.join(paragraph for paragraph in paragraphs if paragraph)


def _datetime(parsed: struct_time | None) -> datetime | None:
    return datetime(*parsed[:6], tzinfo=timezone.utc) if parsed else None
