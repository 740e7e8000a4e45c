"""`newsstream entities …`: find entities by any spelling, show one across languages, and settle
what the linker could not (merge, split), for past articles too."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsstream.cli.common import fail
from newsstream.settings import get_settings

if TYPE_CHECKING:
    from newsstream.entities import CorrectionOutcome

entities_app = typer.Typer(no_args_is_help=True, help="Entities with one identity across spellings and languages.")
out = Console()
err = Console(stderr=True)


@entities_app.command("find")
def find(
    prefix: Annotated[str, typer.Argument(help="the start of any spelling, in any language")],
    limit: Annotated[int, typer.Option(min=1, max=50)] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Entities seen in the stream whose spelling starts with PREFIX (accents and case ignored)."""
    from clients.elasticsearch import make_client
    from newsstream.entities import suggest_entities

    settings = get_settings()
    found = suggest_entities(make_client(settings.elasticsearch), settings.index_entities, prefix, limit)
    if as_json:
        print(json.dumps([entity.model_dump() for entity in found], ensure_ascii=False))
        return
    table = Table("id", "name", "label", "matched", box=None, pad_edge=False)
    for entity in found:
        table.add_row(escape(entity.id), escape(entity.name), entity.label, escape(entity.spelling))
    out.print(table)


@entities_app.command("show")
def show(
    entity_id: Annotated[str, typer.Argument(metavar="ID", help="an entity id (Q142, per:vladimir-putin)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One entity: its names by language, articles per day, the entities named beside it."""
    from clients.elasticsearch import make_client
    from newsstream.entities import entity_view
    from processors.linking import load_knowledge_base

    settings = get_settings()
    view = entity_view(make_client(settings.elasticsearch), settings.index_articles, settings.index_entities,
                       entity_id, load_knowledge_base(settings.pipeline.knowledge_base))
    if view is None:
        fail(f"no entity {entity_id}")
    if as_json:
        print(view.model_dump_json())
        return
    out.print(f"[bold]{escape(view.name)}[/]  [dim]{escape(view.id)} · {view.label or '?'} · "
              f"{view.articles} article(s){' · in the knowledge base' if view.known else ''}[/]")
    for language, spellings in view.names.items():
        out.print(f"  [dim]{language}:[/] {escape(', '.join(spellings))}")
    if view.co_occurring:
        out.print("  [dim]named beside it:[/] " + escape(", ".join(f"{e.name} ({e.count})" for e in view.co_occurring)))


def _stores_and_client():  # noqa: ANN202 - (settings, client, stores), imported late like every command
    from clients.elasticsearch import ensure_index, make_client
    from newsstream.entities import EntityStores

    settings = get_settings()
    es = make_client(settings.elasticsearch)
    stores = EntityStores(settings.index_articles, settings.index_entities, settings.index_entity_corrections)
    for name in (stores.entities, stores.corrections):
        ensure_index(es, name, settings.indices[name])
    return settings, es, stores


def _report(outcome: CorrectionOutcome, as_json: bool) -> None:
    if as_json:
        print(outcome.model_dump_json())
        return
    correction = outcome.correction
    what = {"merged": f"{correction.entity_id} is now {correction.into} ({correction.name})",
            "unmerged": f"{correction.entity_id} is its own entity again, apart from {correction.into}",
            "split": f"{correction.spelling!r} no longer stands for {correction.entity_id}"}[outcome.action]
    out.print(f"{escape(what)}; {outcome.articles} past article(s) rewritten. Workers apply it to new articles "
              "within NEWSSTREAM_ENTITY_CORRECTIONS_REFRESH_S seconds.")


def _progress(done: int) -> None:
    err.print(f"  {done} article(s) rewritten …")


def _correct(correction: str, entity: str, other: str, as_json: bool) -> None:
    """Runs `merge_entities` or `split_entity` (newsstream/entities.py) and reports its outcome."""
    from newsstream import entities
    from processors.linking import load_knowledge_base

    settings, es, stores = _stores_and_client()
    try:
        outcome = getattr(entities, correction)(es, stores, entity, other,
                                                load_knowledge_base(settings.pipeline.knowledge_base),
                                                settings.pipeline.entity_name_language, _progress)
    except entities.InvalidCorrection as error:
        fail(str(error))
    _report(outcome, as_json)


@entities_app.command("merge")
def merge(
    keep: Annotated[str, typer.Argument(metavar="KEEP", help="the id that stays (Q7747, per:vladimir-putin)")],
    other: Annotated[str, typer.Argument(metavar="OTHER", help="the id that becomes KEEP")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """OTHER is the same entity as KEEP: in new articles and, rewritten now, in past ones."""
    _correct("merge_entities", keep, other, as_json)


@entities_app.command("split")
def split(
    entity: Annotated[str, typer.Argument(metavar="ID", help="the entity to split")],
    part: Annotated[str, typer.Argument(metavar="OTHER_OR_SPELLING",
                                        help="an id merged into ID (the merge is undone), or a spelling "
                                             "that does not stand for ID")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Undoes a merge, or takes a spelling away from an entity ("Paris" the person is not Q90)."""
    _correct("split_entity", entity, part, as_json)


@entities_app.command("rebuild")
def rebuild() -> None:
    """Records every spelling of every stored article in the entities index again.

    That index is what `entities find` and `GET /entities` read; the workers' writes to it are best
    effort (a failure there never holds up an article)."""
    from newsstream.entities import rebuild_names

    _, es, stores = _stores_and_client()
    articles, recorded = rebuild_names(es, stores, lambda done: err.print(f"  {done} article(s) read …"))
    out.print(f"{articles} article(s) read; {recorded} spelling(s) recorded that were missing")
