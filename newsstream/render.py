"""Human-readable terminal output for articles and search hits."""
from __future__ import annotations

import re

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsstream.search import SearchHit, StoryMember
from newsstream.stories import StoryDetail, StorySummary
from schemas import EnrichedArticle
from schemas.alerts import Alert

out = Console()
_MARK = re.compile(r"<mark>(.*?)</mark>")


def snippet_markup(snippet: str) -> str:
    """Snippets are HTML-escaped with <mark> around matches; the terminal shows them bold."""
    import html

    pieces = _MARK.split(snippet)
    return "".join(
        f"[bold yellow]{escape(html.unescape(piece))}[/]" if odd else escape(html.unescape(piece))
        for odd, piece in ((i % 2 == 1, p) for i, p in enumerate(pieces))
    )


def _languages(shares) -> str:  # noqa: ANN001
    return " ".join(f"{share.code} {share.share:.0%}" for share in shares)


def render_hits(hits: list[SearchHit], query: str) -> None:
    out.print(f"[bold]{len(hits)} hit(s)[/] for [cyan]{escape(query)}[/]")
    for rank, hit in enumerate(hits, start=1):
        out.print(f"\n[bold]{rank}. {escape(hit.title)}[/]  [dim]{hit.id} · score {hit.score:.2f} · {_languages(hit.languages)}[/]")
        for label, names in (("persons", hit.persons), ("locations", hit.locations),
                             ("organizations", hit.organizations), ("agencies", hit.agencies)):
            if names:
                out.print(f"   [dim]{label}:[/] {escape(', '.join(names[:8]))}")
        for snippet in hit.snippets:
            out.print(f"   {snippet_markup(snippet)}")
        if hit.story_size > 1:
            out.print(f"   [dim]+ {hit.story_size - 1} more from other outlets and languages "
                      f"(newsstream stories show {hit.story_id}):[/]")
            for member in hit.story_more:
                out.print(f"     {_member_line(member)}")


def _member_line(member: StoryMember) -> str:
    copy = " [dim](copy)[/]" if member.duplicate_of else ""
    when = f"{member.published_at:%Y-%m-%d %H:%M} " if member.published_at else ""
    return f"[dim]{when}{member.language} {escape(member.source or '?')}[/] {escape(member.title)}{copy}"


def _span(story: StorySummary) -> str:
    if not story.first_seen or not story.last_seen:
        return ""
    return f"{story.first_seen:%Y-%m-%d %H:%M} – {story.last_seen:%Y-%m-%d %H:%M}"


def render_stories(stories: list[StorySummary]) -> None:
    table = Table("story", "articles", "languages", "outlets", "seen", "title", box=None, pad_edge=False)
    for story in stories:
        table.add_row(escape(story.id), str(story.article_count), " ".join(story.languages),
                      escape(", ".join(story.sources[:4]) + (" …" if len(story.sources) > 4 else "")),
                      _span(story), escape(story.title))
    out.print(table)


def render_story(story: StoryDetail) -> None:
    out.print(f"[bold]{escape(story.title)}[/]  [dim]{story.id} · {story.article_count} article(s) · "
              f"{' '.join(story.languages)} · {_span(story)}[/]")
    for member in story.articles:
        out.print(f"  {_member_line(member)}")


def render_article(article: EnrichedArticle) -> None:
    out.print(f"[bold]{escape(article.title)}[/]  [dim]{article.id} · {_languages(article.languages)}[/]")
    table = Table("entity", "label", "count", "id", "name", box=None, pad_edge=False)
    for entity in article.entities:
        name = entity.name if entity.name and entity.name != entity.text else ""
        table.add_row(escape(entity.text), entity.label, str(entity.count), escape(entity.id), escape(name))
    out.print(table)
    if article.agencies:
        out.print(f"[dim]agencies:[/] {escape(', '.join(article.agencies))}   [dim]credits:[/] {escape(' | '.join(article.credits))}")
    if article.ner_unavailable:
        out.print(f"[dim]no NER model for:[/] {', '.join(article.ner_unavailable)}")
    out.print(escape(article.body[:400]) + ("…" if len(article.body) > 400 else "") + "\n")


def render_alert(alert: Alert, as_json: bool = False) -> None:
    if as_json:
        print(alert.model_dump_json(), flush=True)
        return
    out.print(f"[dim]{alert.matched_at:%Y-%m-%d %H:%M:%S}[/] [bold magenta]{escape(alert.rule)}[/] "
              f"[bold]{escape(alert.title)}[/] [dim]({alert.language}, {alert.article_id}; "
              f"{escape(', '.join(alert.matched_terms))})[/]")
    if alert.article_count > 1:  # the story's later articles, added to this alert and not delivered again
        out.print(f"  [dim]+ {alert.article_count - 1} more in this story from "
                  f"{escape(', '.join(alert.sources) or 'unknown sources')} ({', '.join(alert.languages)})[/]")
