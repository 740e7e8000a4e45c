"""`make run`: the whole service on the shipped samples (and the user's seed when it is there)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from newsstream.settings import PROJECT_ROOT, Settings

SAMPLE_FILES = (
    PROJECT_ROOT / "samples" / "articles.jsonl",
    PROJECT_ROOT / "samples" / "articles-multilingual.jsonl",
    PROJECT_ROOT / "samples" / "articles-wire-copies.jsonl",  # one wire story, three outlets and a translation
    PROJECT_ROOT / "samples" / "wire-dump.txt",
    PROJECT_ROOT.parent / "shared" / "samples" / "seed-wire-dump.txt",
)
DEMO_SEARCHES = (("sanction", None), ("Leopard", None), ("*", None), ("Poutine", "fr"))
# One entity in every spelling and language: Moskau, Moscou, Moscú, Moskou are all Q649.
DEMO_ENTITY_SEARCHES = ("Moskau", "Vladimir Poutine")
DEMO_RULES = (("sanctions", "sanctions"), ("tanks", 'Leopard OR "battle tanks"'))


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    log_path = settings.state_dir / "logs" / "worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "newsstream.cli", "worker"], stdout=log, stderr=subprocess.STDOUT)


def wait_until_indexed(es, index: str, ids: list[str], timeout_s: float, console: Console) -> int:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    found = 0
    with console.status("waiting for the worker to index the articles…") as status:
        while time.monotonic() < deadline:
            if es.indices.exists(index=index):
                es.indices.refresh(index=index)
                found = es.count(index=index, query={"ids": {"values": ids}})["count"]
                status.update(f"indexed {found}/{len(ids)}…")
                if found >= len(ids):
                    break
            time.sleep(1)
    return found


def run_demo(settings: Settings, console: Console) -> None:
    from clients.elasticsearch import make_client
    from clients.kafka import make_producer
    from deploy.stack import up
    from ingest.producer import produce_articles
    from ingest.readers import InputError, read_articles
    from newsstream.provision import provision
    from newsstream.render import render_alert, render_hits
    from newsstream.search import search_articles, stored_alerts
    from processors.linking import load_knowledge_base
    from processors.rulebook import publish_rule
    from schemas.alerts import Rule

    up(settings.stack)
    provision(settings)
    es = make_client(settings.elasticsearch)
    for name, query in DEMO_RULES:
        publish_rule(settings.rules, Rule(name=name, query=query))
        console.print(f"alert rule {name!r}: {query}")
    worker = start_worker(settings)
    console.print(f"worker started (pid {worker.pid}, log {settings.state_dir / 'logs' / 'worker.log'})")
    try:
        producer = make_producer(settings.kafka)
        ids: list[str] = []
        for path in (p for p in SAMPLE_FILES if p.is_file()):
            with open(path, encoding="utf-8") as stream:
                articles = [a for a in read_articles(stream, name=str(path)) if not isinstance(a, InputError)]
            ids += produce_articles(producer, settings.topic_raw, articles)
            console.print(f"ingested {len(articles)} article(s) from {_shown(path)}")
        producer.close()
        found = wait_until_indexed(es, settings.index_articles, ids, 240, console)
        console.print(f"[bold]{found} of {len(set(ids))} articles searchable[/]\n")
        for query, lang in DEMO_SEARCHES:
            console.rule(f"newsstream search {query!r}" + (f" --lang {lang}" if lang else ""))
            render_hits(search_articles(es, settings.index_articles, query, settings.language_set, lang=lang, size=5),
                        query)
        kb = load_knowledge_base(settings.pipeline.knowledge_base)
        for entity in DEMO_ENTITY_SEARCHES:
            console.rule(f"newsstream search '*' --entity {entity!r}")
            render_hits(search_articles(es, settings.index_articles, "*", settings.language_set, entity=entity,
                                        size=5, kb=kb), "*")
        console.rule("newsstream alerts tail --no-follow")
        time.sleep(2)  # the last batch's alerts are stored right after its articles
        for alert in stored_alerts(es, settings.index_alerts):
            render_alert(alert)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    console.print("\nThe stack is still up: `newsstream worker` to keep processing, `make stack-down` to stop it.")


def _shown(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT.parent)) if path.is_relative_to(PROJECT_ROOT.parent) else str(path)
