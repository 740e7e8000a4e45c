"""`newsstream measure …`: benchmarks and evaluations, apart from the product's commands."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from newsstream.cli.common import fail
from newsstream.settings import get_settings

measure_app = typer.Typer(no_args_is_help=True)


@measure_app.command("eval-ner")
def eval_ner(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    language: Annotated[Optional[str], typer.Option(help="language of the file (default: from its path)")] = None,
    limit: Annotated[Optional[int], typer.Option(help="only the first N sentences")] = None,
    fold: Annotated[Optional[str], typer.Option(help="K/N: only sentences numbered i with i %% N == K "
                                                     "(4/5: the held-out fifth of GermEval test)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Exact-span entity precision, recall and F1 of the project's tagging on a gold NER file."""
    from newsstream.measure.ner import NerUnavailableError, evaluate_ner, render_ner_report

    try:
        k, n = (int(part) for part in fold.split("/")) if fold else (0, 1)
    except ValueError:
        fail(f"--fold takes K/N, such as 4/5, not {fold!r}")
    try:
        result = evaluate_ner(file, get_settings().pipeline, language=language, limit=limit,
                              fold=(k, n) if fold else None)
    except NerUnavailableError as error:
        fail(str(error))
    print(json.dumps(result) if as_json else render_ner_report(result))


@measure_app.command("eval-linking")
def eval_linking(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    gold_format: Annotated[Optional[str], typer.Option("--format", help="elevant (JSON Lines) or hipe (TSV); "
                                                       "default: from the extension, else the content")] = None,
    language: Annotated[Optional[str], typer.Option(help="language of every article (default: ELEVANT en, "
                                                         "HIPE the file's own or its name's)")] = None,
    limit: Annotated[Optional[int], typer.Option(help="only the first N articles")] = None,
    errors: Annotated[int, typer.Option(help="also list the N most frequent wrong links and unlinked "
                                             "locations")] = 0,
    knowledge_base: Annotated[Optional[Path], typer.Option(exists=True, dir_okay=False, help="a gazetteer (default: "
                                                           "the configured one, else the shipped one)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Entity linking given the gold mentions: shares of mentions linked to the gold QID, to another
    QID, or to none, per label, and the linker's time per article."""
    from newsstream.measure import linking

    if gold_format not in (None, "elevant", "hipe"):
        fail(f"--format takes elevant or hipe, not {gold_format!r}")
    try:
        gold_format = gold_format or linking.detect_format(file)
        articles = linking.read_gold(file, gold_format, language=language)  # type: ignore[arg-type]
    except (ValueError, KeyError) as error:
        fail(f"cannot read {file} as {gold_format or 'gold'}: {error}")
    try:
        pipeline = get_settings().pipeline
        link = linking.default_linker(knowledge_base or pipeline.knowledge_base,
                                      display_language=pipeline.entity_name_language)
    except linking.LinkerUnavailableError as error:
        fail(str(error))
    result = linking.evaluate_linking(articles, link, source=str(file), gold_format=gold_format,
                                      limit=limit).to_dict(errors=errors)
    print(json.dumps(result, ensure_ascii=False) if as_json else linking.render_linking_report(result))


@measure_app.command("eval-dedup")
def eval_dedup(
    corpora: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="JSON Lines articles "
                                                  "(title, body), each evaluated on its own, such as "
                                                  "../shared/corpora/news/en_bbc.jsonl")],
    seed: Annotated[int, typer.Option(help="the same seed, the same synthetic copies and order")] = 20261203,
    copies: Annotated[int, typer.Option(min=1, help="synthetic copies per edit kind")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per corpus, one per line")] = False,
) -> None:
    """Precision and recall of `duplicate_of` on a corpus's real copies and synthetic ones (headline,
    boilerplate, trimmed ending, numbers changed), with same-topic controls, beside exact-hash
    dedup, and a sweep of the copy thresholds."""
    from newsstream.measure.dedup import evaluate_dedup, load_news_rows, render_dedup

    story_config = get_settings().stories
    for path in corpora:
        try:
            rows = load_news_rows(path)
        except (ValueError, UnicodeDecodeError) as error:
            fail(f"cannot read {path} as JSON Lines articles: {error}")
        report = evaluate_dedup(rows, story_config, seed=seed, copies_per_kind=copies, corpus=path.name,
                                progress=lambda message: typer.echo(message, err=True))
        print(json.dumps(report.as_dict(), ensure_ascii=False) if as_json else render_dedup(report))


@measure_app.command("eval-stories")
def eval_stories(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="gold stories: JSON Lines (title, body, "
                                         "lang, published_at, story), such as samples/stories-gold.jsonl, or the "
                                         "French-News-Clustering CSV (.csv)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """B-cubed and pairwise precision/recall/F1 of `story_id` on gold stories, beside singletons and
    exact-title grouping, with a sweep of the same- and cross-language thresholds."""
    from newsstream.measure.stories import evaluate_stories, load_gold_rows, read_french_news_clustering, render_stories

    settings = get_settings()
    try:
        rows = read_french_news_clustering(file) if file.suffix == ".csv" else load_gold_rows(file)
        report = evaluate_stories(rows, settings.pipeline, settings.stories, corpus=file.name,
                                  progress=lambda message: typer.echo(message, err=True))
    except (ValueError, KeyError, UnicodeDecodeError) as error:
        fail(f"cannot evaluate {file}: {error}")
    print(json.dumps(report.as_dict(), ensure_ascii=False) if as_json else render_stories(report))


@measure_app.command("suggestions")
def suggestions(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="articles in several languages "
                                                "(JSON Lines with title, body, lang, published_at, story), such "
                                                "as samples/stories-gold.jsonl samples/stories-es-it.jsonl")],
    word: Annotated[Optional[list[str]], typer.Option(help="a rule's word (repeatable; default: ten common "
                                                      "news words)")] = None,
    language: Annotated[Optional[list[str]], typer.Option(help="languages to suggest for (repeatable; "
                                                          "default de, es, it)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What `alerts add --suggest` proposes for each word in other languages, on the files' articles
    grouped into stories by the stage (a scratch index on the running Elasticsearch)."""
    from clients.elasticsearch import make_client
    from newsstream.measure.stories import load_gold_rows
    from newsstream.measure.suggestions import DEFAULT_WORDS, measure_suggestions, render_suggestions

    settings = get_settings()
    try:
        rows = [row for file in files for row in load_gold_rows(file)]
        with make_client(settings.elasticsearch) as es:
            report = measure_suggestions(es, rows, settings.pipeline, settings.stories, words=word or DEFAULT_WORDS,
                                         languages=language or ("de", "es", "it"),
                                         progress=lambda message: typer.echo(message, err=True))
    except (ValueError, KeyError, UnicodeDecodeError) as error:
        fail(f"cannot measure suggestions: {error}")
    print(json.dumps(report.as_dict(), ensure_ascii=False) if as_json else render_suggestions(report))


@measure_app.command("story-lookup")
def story_lookup(
    stored: Annotated[int, typer.Option(min=1, help="signatures in the large index")] = 1_000_000,
    baseline: Annotated[int, typer.Option(min=1, help="signatures in the baseline index")] = 10_000,
    batches: Annotated[int, typer.Option(min=1, help="batches timed per index and variant")] = 30,
    product_only: Annotated[bool, typer.Option("--product-only", help="time the product's lookup alone, "
                                               "not the variants that show what its cost comes from")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The story stage's candidate lookup per Kafka batch against an index of generated signatures
    (1,000,000 by default: about 15 minutes to build, 4 GB) beside a small baseline index, on the
    running Elasticsearch; both indices are deleted afterwards."""
    from newsstream.measure.story_lookup import PRODUCT, LOOKUP_VARIANTS, render_story_lookup, run_story_lookup

    settings = get_settings()
    report = run_story_lookup(settings.elasticsearch, settings.stories, stored=stored, baseline_stored=baseline,
                              batches=batches, variants=(PRODUCT,) if product_only else tuple(LOOKUP_VARIANTS),
                              progress=lambda message: typer.echo(message, err=True))
    print(json.dumps(report.as_dict()) if as_json else render_story_lookup(report))


@measure_app.command("search-scale")
def search_scale(
    stored: Annotated[Optional[list[int]], typer.Option(min=1, help="stored articles, repeatable "
                                                        "(default: 100000 and 1000000)")] = None,
    corpus: Annotated[Optional[list[Path]], typer.Option(exists=True, dir_okay=False, help="JSON Lines "
                                                         "articles to copy, repeatable (default: the samples)")] = None,
    repeats: Annotated[int, typer.Option(min=1, help="timed runs of each search")] = 30,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The API's search (facets, highlighting, stories collapsed) and `alerts test` over enriched
    copies of a corpus, at each size, on the running Elasticsearch (the cluster's when the stack
    runs the cluster profile); each index is deleted afterwards. 1,000,000 copies of the news
    corpora take about 10 GB and half an hour here."""
    from clients.elasticsearch import make_client
    from newsstream.measure.bench import load_rows
    from newsstream.measure.search_scale import render_search_scale, run_search_scale
    from processors.linking import load_knowledge_base

    settings = get_settings()
    es = make_client(settings.elasticsearch)
    try:
        result = run_search_scale(es, load_rows(corpus or ()), settings.pipeline, settings.stories,
                                  stored or [100_000, 1_000_000], settings.index_replicas, load_knowledge_base(),
                                  repeats, progress=lambda message: typer.echo(message, err=True))
    finally:
        es.close()
    print(json.dumps(result) if as_json else render_search_scale(result))


@measure_app.command("linking-cost")
def linking_cost(
    corpus: Annotated[Optional[list[Path]], typer.Option(exists=True, dir_okay=False, help="JSON Lines corpora, "
                                                         "mixed one article of each in turn (default: the samples)")] = None,
    articles: Annotated[int, typer.Option(min=1)] = 300,
    rounds: Annotated[int, typer.Option(min=1)] = 3,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What linking costs: the knowledge base's load time and memory per NLP process, and the
    linker's share of the per-article NLP time on the same articles."""
    from newsstream.measure.bench import copies, load_rows
    from newsstream.measure.linking_cost import measure_linking_cost, render_linking_cost

    rows = load_rows(corpus or ())
    cost = measure_linking_cost(copies(rows, min(articles, len(rows)), "cost"), get_settings().pipeline, rounds)
    print(json.dumps(cost.as_dict()) if as_json else render_linking_cost(cost))


@measure_app.command("eval-langid")
def eval_langid(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Accuracy per language of language detection on a gold file (JSON Lines with text, lang)."""
    from newsstream.measure.langid import evaluate_langid, render_langid_report

    result = evaluate_langid(file, get_settings().language_set)
    print(json.dumps(result) if as_json else render_langid_report(result))


@measure_app.command()
def bench(
    articles: Annotated[int, typer.Option(help="articles per measured system")] = 2000,
    corpus: Annotated[Optional[list[Path]], typer.Option(exists=True, dir_okay=False, help="JSON Lines "
                                                         "articles, repeatable to mix (default: the samples)")] = None,
    workers: Annotated[Optional[list[int]], typer.Option(min=1, help="measure the service with this many "
                                                         "workers of one NLP process each, repeatable (default: "
                                                         "1 × 1, 1 × one per core, one per core × 1)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Throughput and latency: in-process spaCy, a naive consumer and the service, side by side;
    CPU per process (workers, NLP processes, brokers, Elasticsearch nodes) during each burst."""
    from newsstream.measure.bench import ServiceVariant, render_bench, run_bench

    variants = tuple(ServiceVariant(count, 1) for count in workers) if workers else None
    result = run_bench(get_settings(), articles, corpus or (), variants=variants)
    print(json.dumps(result) if as_json else render_bench(result))


@measure_app.command("bench-alerts")
def bench_alerts(
    rules: Annotated[Optional[list[int]], typer.Option("--rules", help="rule counts to measure (repeatable)")] = None,
    articles: Annotated[int, typer.Option(help="articles matched per rule count")] = 300,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    live: Annotated[bool, typer.Option("--live", help="measure produce-to-alert latency on the stack (JSON)")] = False,
    mail: Annotated[bool, typer.Option("--mail", help="with --live: every rule mails a local SMTP server; "
                                       "produce-to-mail latency too")] = False,
) -> None:
    """Per-article alert matching time for growing rule counts, beside the naive loop over all rules;
    with --live, produce-to-alert latency through the running stack instead."""
    counts = tuple(sorted(rules)) if rules else ((100, 10_000) if live else (100, 10_000, 100_000))
    if live:
        from newsstream.measure.alert_latency import run_alert_latency

        print(json.dumps(run_alert_latency(get_settings(), counts, articles=min(articles, 200), mail=mail)))
        return
    from newsstream.measure.bench_alerts import render_alert_bench, run_alert_bench

    result = run_alert_bench(get_settings(), counts, articles=articles)
    print(json.dumps(result) if as_json else render_alert_bench(result))


@measure_app.command()
def codecs(
    corpus: Annotated[Optional[list[Path]], typer.Option(exists=True, dir_okay=False, help="JSON Lines "
                                                         "articles, repeatable (default: the samples)")] = None,
    articles: Annotated[int, typer.Option(help="articles produced per codec")] = 1000,
    repeats: Annotated[int, typer.Option(help="runs per codec; the median is shown")] = 3,
) -> None:
    """Bytes on the topic and producer/consumer CPU for each Kafka compression codec (local stack).
    Use a corpus with as many distinct articles as produced: repeats compress unrealistically well."""
    from ingest.producer import encode_article
    from newsstream.measure.bench import copies, load_rows
    from newsstream.measure.codecs import measure_codecs, render_codecs

    settings = get_settings()
    rows = load_rows(corpus or ())
    payloads = [(article.id.encode(), encode_article(article)) for article in copies(rows, articles, "z")]
    print(render_codecs(measure_codecs(settings.kafka, settings.state_dir / "kafka-data", payloads, repeats)))


@measure_app.command()
def models(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Each configured NER model: size on disk, load time, tokens/s and the RSS of a process holding it."""
    from newsstream.measure.models import measure_models, render_models

    result = measure_models(get_settings().pipeline)
    print(json.dumps(result) if as_json else render_models(result))


@measure_app.command("train-ner")
def train_ner(
    lang: Annotated[str, typer.Argument(help="de, es, nl, … (models/configs/LANG.cfg)")],
    data: Annotated[Path, typer.Option(exists=True, file_okay=False, help="the gold files (models/README.md)")],
    germeval_test: Annotated[Optional[Path], typer.Option(help="German: the GermEval 2014 test file to re-split "
                                                               "(default: ../shared/corpora/ner/de/NER-de-test.tsv)")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    vectors: Annotated[Optional[Path], typer.Option(exists=True, file_okay=False, help="spaCy static vectors for "
                                                    "a config that uses them (German: models/README.md)")] = None,
    package: Annotated[bool, typer.Option("--package/--no-package", help="build the wheel into models/dist")] = True,
) -> None:
    """Train one of the project's own NER pipelines: prepare the splits, train, package (models/README.md)."""
    from newsstream.measure import train_ner as recipe

    args = [lang, "--data", str(data), "--seed", str(seed), *(["--no-package"] if not package else [])]
    args += ["--germeval-test", str(germeval_test)] if germeval_test else []
    recipe.main([*args, *(["--vectors", str(vectors)] if vectors else [])])
