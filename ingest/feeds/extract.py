"""An article page → its main text and metadata with trafilatura, which leaves out navigation,
cookie and consent banners, related-links blocks, footers, scripts and styles."""
from __future__ import annotations

from datetime import datetime, timezone

import trafilatura
from lxml.html import HtmlElement
from pydantic import BaseModel
from trafilatura.utils import load_html

PARAGRAPH_SEPARATOR = "\n\n"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class Extraction(BaseModel):
    title: str = ""
    body: str  # paragraphs separated by a blank line
    author: str | None = None
    published_at: datetime | None = None
    language: str | None = None  # as the page declares it (<html lang>, Content-Language meta)


class ExtractionFailed(BaseModel):
    reason: str


def extract_article(page: bytes, *, url: str) -> Extraction | ExtractionFailed:
    tree = load_html(page)
    if tree is None:
        return ExtractionFailed(reason="page is not HTML")
    language = _declared_language(tree)
    document = trafilatura.bare_extraction(
        tree, url=url, with_metadata=True, include_comments=False, include_tables=False, include_images=False,
    )
    if document is None or not (document.text or "").strip():
        return ExtractionFailed(reason="no main text found on the page")
    title = " ".join((document.title or "").split())
    paragraphs = [" ".join(line.split()) for line in document.text.split("\n")]
    paragraphs = [paragraph for paragraph in paragraphs if paragraph]
    if len(paragraphs) > 1 and paragraphs[0] == title:
        paragraphs = paragraphs[1:]  # the page's headline, repeated as the text's first line
    return Extraction(
        title=title,
        body=PARAGRAPH_SEPARATOR.join(paragraphs),
        author=document.author or None,
        published_at=_date(document.date),
        language=language,
    )


def _declared_language(tree: HtmlElement) -> str | None:
    declared = tree.get("lang") or tree.get(XML_LANG)
    if not declared:
        declared = next((meta.get("content") for meta in tree.iter("meta")
                         if (meta.get("http-equiv") or "").lower() == "content-language"), None)
    return (declared or "").strip() or None


def _date(value: str | None) -> datetime | None:
    """trafilatura gives the publication date as YYYY-MM-DD."""
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc) if value else None
    except ValueError:
        return None
