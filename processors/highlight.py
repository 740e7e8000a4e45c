"""Snippets that mark the inflected forms whose analysed term matched (search hits and alerts)."""
from __future__ import annotations

import html

from processors.analysis import analyze_with_offsets
from schemas import EnrichedArticle

SNIPPET_CHARS = 220


def highlight(article: EnrichedArticle, wanted: set[str], max_snippets: int = 2) -> list[str]:
    """Snippets around the words whose analysed form is one of `wanted` (HTML-escaped, <mark>ed)."""
    scored: list[tuple[int, int, str]] = []
    for position, paragraph in enumerate(article.paragraphs):
        spans = [(t.start, t.end) for t in analyze_with_offsets(paragraph.text, paragraph.language) if t.term in wanted]
        if spans:
            scored.append((len(spans), -position, _snippet(paragraph.text, spans)))
    if not scored and article.paragraphs:
        return [_snippet(article.paragraphs[0].text, [])]
    return [snippet for *_, snippet in sorted(scored, reverse=True)[:max_snippets]]


def _snippet(text: str, spans: list[tuple[int, int]]) -> str:
    """A window of the text around the first span, HTML-escaped, with the spans in <mark>."""
    around = spans[0][0] if spans else 0
    window_start = max(0, min(around - SNIPPET_CHARS // 3, len(text) - SNIPPET_CHARS))
    if window_start:  # start on a word, not in the middle of one
        space = text.find(" ", window_start, around)
        window_start = space + 1 if space != -1 else window_start
    window_end = min(len(text), window_start + SNIPPET_CHARS)
    if window_end < len(text):
        space = text.rfind(" ", max(around, window_start), window_end)
        window_end = space if space != -1 else window_end
    parts, cursor = [], window_start
    for start, end in spans:
        if start < cursor or end > window_end:
            continue
        parts += [html.escape(text[cursor:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        cursor = end
    parts.append(html.escape(text[cursor:window_end]))
    return ("…" if window_start else "") + "".join(parts) + ("…" if window_end < len(text) else "")
