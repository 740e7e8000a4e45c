"""`newsstream stories …`: the events the stream has seen, each across outlets and languages."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from newsstream.cli.common import fail
from newsstream.settings import get_settings

stories_app = typer.Typer(help="Stories: one event's articles across outlets and languages, copies folded.",
                          invoke_without_command=True)


@stories_app.callback()
def list_(
    context: typer.Context,
    size: Annotated[int, typer.Option(min=1, max=100, help="stories listed, newest first")] = 20,
    lang: Annotated[Optional[str], typer.Option(help="only stories with articles in this language")] = None,
    min_articles: Annotated[int, typer.Option(min=1, help="only stories of at least this many articles")] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The newest stories: title, articles, languages, outlets, first and last seen."""
    if context.invoked_subcommand:
        return
    from clients.elasticsearch import make_client
    from newsstream.stories import list_stories

    settings = get_settings()
    found = list_stories(make_client(settings.elasticsearch), settings.index_articles, size=size, lang=lang,
                         min_articles=min_articles)
    if as_json:
        print(json.dumps([story.model_dump(mode="json") for story in found], ensure_ascii=False))
        return
    from newsstream.render import render_stories

    render_stories(found)


@stories_app.command("show")
def show(
    story_id: Annotated[str, typer.Argument(metavar="ID", help="a story id (its first article's id)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One story's timeline: every article, its outlet and language, copies marked."""
    from clients.elasticsearch import make_client
    from newsstream.stories import story

    settings = get_settings()
    found = story(make_client(settings.elasticsearch), settings.index_articles, story_id)
    if found is None:
        fail(f"no story {story_id}")
    if as_json:
        print(found.model_dump_json())
        return
    from newsstream.render import render_story

    render_story(found)
