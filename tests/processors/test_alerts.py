"""The alert rule engine: query compilation, language-aware matching, the rule index, alerts."""
import random
import re

import pytest
from pydantic import ValidationError

from newsstream.measure.bench_alerts import generate_rules, load_corpus_rows
from processors.config import DEFAULT_LANGUAGES
from processors.alerts import (
    AllOf,
    AnyOf,
    ArticleTerms,
    InvalidRuleQuery,
    PhraseNode,
    RuleIndex,
    TermNode,
    compile_query,
    expanded_query,
    make_alert,
    matches,
)
from processors.analysis import analyze
from schemas import EnrichedArticle, Entity, LanguageShare, Paragraph
from schemas.alerts import Channel, Rule, alert_id

LANGUAGES = DEFAULT_LANGUAGES


def article(body: str, language: str = "en", *, title: str = "", id: str = "a1", source: str | None = None,
            entities: tuple[str, ...] = ()) -> EnrichedArticle:
    """An enriched article whose every paragraph is in `language` (the terms as the pipeline makes them)."""
    paragraphs, start = [], 0
    for text in body.split("\n\n"):
        start = body.index(text, start)
        paragraphs.append(Paragraph(text=text, start=start, end=start + len(text), language=language))
    return EnrichedArticle(
        id=id, source=source, title=title, body=body, language=language,
        languages=[LanguageShare(code=language, share=1.0)], paragraphs=paragraphs,
        entities=[Entity(text=name, label="organization", count=1) for name in entities],
        title_terms=" ".join(analyze(title, language)), body_terms=" ".join(analyze(body, language)),
    )


def matched(query: str, target: EnrichedArticle, languages=LANGUAGES) -> set[str] | None:
    return matches(compile_query(query, languages), ArticleTerms.from_article(target))


# --- compiling ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "root_type"), [
    ("sanctions", TermNode),
    ('"Bank of England"', PhraseNode),
    ("covid-19", PhraseNode),  # one query word, two analysed terms: they must be adjacent
    ("sanctions Russia", AllOf),
    ("sanctions AND Russia", AllOf),
    ("+sanctions +Russia", AllOf),
    ("sanctions OR embargo", AnyOf),
    ("sanctions -oil", AllOf),
    ("sanctions AND NOT (oil OR gas)", AllOf),
    ("(sanctions OR embargo) AND (Russia OR Iran)", AllOf),
])
def test_queries_compile_to_their_structure(query, root_type):
    compiled = compile_query(query, LANGUAGES)
    assert isinstance(compiled.root, root_type)
    assert compiled.triggers


@pytest.mark.parametrize(("query", "message"), [
    ("", "empty query"),
    ("   ", "empty query"),
    ("(sanctions AND", 'unbalanced parenthesis at position 0 ("(" is never closed): "(sanctions AND"'),
    ("sanctions) OR x", "unbalanced parenthesis at position 9"),
    ('sanctions "on Russia', "unclosed quote at position 10"),
    ("sanctions OR OR embargo", 'unexpected "OR" at position 13'),
    ("AND sanctions", 'unexpected "AND" at position 0'),
    ("sanctions AND", "ends at position 13 where a word was expected"),
    ("NOT sanctions", "only excludes words"),
    ("-sanctions -embargo", "only excludes words"),
    ("sanctions OR NOT oil", 'excluded alternative ("NOT oil" at position 13)'),
    ("title:sanctions", "\"title:\" at position 0 is not one of the languages"),
    ("sanc*", 'wildcards are not supported ("*" at position 4)'),
    ("sanction?", "wildcards are not supported"),
    ("sanctions~2", "fuzzy matching"),
    ('"sanctions Russia"~3', "proximity"),
    ("[a TO z]", "ranges"),
    ("sanctions^2", "boosts"),
    ("/sanction.*/", "regular expressions"),
])
def test_malformed_queries_are_refused_with_what_and_where(query, message):
    with pytest.raises(InvalidRuleQuery, match=re.escape(message)):
        compile_query(query, LANGUAGES)


def test_a_query_of_stop_words_only_is_refused():
    with pytest.raises(InvalidRuleQuery, match="only stop words"):
        compile_query("the of AND (and OR the)", ["en"])


def test_stop_words_in_a_query_drop_out_like_in_search():
    assert matched("the sanctions", article("New sanctions were announced."), ["en"]) == {"sanction"}


def test_triggers_of_an_and_come_from_one_side_only():
    compiled = compile_query("Gazprom AND sanctions", ["en"])
    assert compiled.triggers in ({"gazprom"}, {"sanction"})


# --- matching -------------------------------------------------------------------------------------

def test_sanctions_matches_french_and_english_inflections():
    french = article("Les sanctions internationales contre la Russie se durcissent.", "fr")
    english = article("The EU imposed a new sanction on the shipping firm.", "en")
    assert matched("sanctions", french) == {"sanction"}
    assert matched("sanctions", english) == {"sanction"}


def test_german_singular_and_plural_meet():
    assert matched("Sanktion", article("Die Sanktionen gegen Russland bleiben.", "de")) == {"sanktion"}
    assert matched("Sanktionen", article("Eine neue Sanktion trifft die Reederei.", "de")) == {"sanktion"}


def test_matching_ignores_case_and_accents():
    assert matched("SANCTIONS", article("sanctions")) == {"sanction"}
    assert matched("societe", article("La Société générale publie ses comptes.", "fr")) is not None


def test_a_phrase_needs_its_words_adjacent_and_in_order():
    assert matched('"Bank of England"', article("The Bank of England raised rates.")) == {"bank", "england"}
    assert matched('"Bank of England"', article("England's central bank raised rates.")) is None
    assert matched('"Bank of England"', article("The bank raised rates in England.")) is None
    assert matched('"England bank"', article("The Bank of England raised rates.")) is None


def test_a_phrase_keeps_a_word_that_is_a_stop_word_only_elsewhere():
    german = article("Die Bank of England erhöht die Zinsen.", "de")  # "of" is no German stop word
    assert matched('"Bank of England"', german) == {"bank", "of", "england"}


def test_a_phrase_shortened_by_another_languages_stop_words_applies_only_to_that_language():
    # "bez" is a Polish stop word: in Polish text "said bez" is just "said", not in English text.
    assert matched('"said Bez"', article("Officials said on Monday that talks continue.")) is None


def test_a_phrase_does_not_run_from_the_title_into_the_body():
    target = article("England raised rates.", title="Decision by the bank")
    assert matched('"bank England"', target) is None
    assert matched("bank England", target) == {"bank", "england"}


def test_a_hyphenated_word_is_a_phrase_of_its_parts():
    assert matched("covid-19", article("Covid 19 cases rose.")) is not None
    assert matched("covid-19", article("Covid cases rose by 19 percent.")) is None


@pytest.mark.parametrize(("query", "expected"), [
    ("sanctions Russia", {"sanction", "russia"}),
    ("sanctions AND Iran", None),
    ("sanctions OR Iran", {"sanction"}),
    ("sanctions -oil", None),
    ("sanctions -gas", {"sanction"}),
    ("sanctions AND NOT (gas OR Iran)", {"sanction"}),
    ("sanctions AND NOT (gas OR oil)", None),
    ("(Iran OR Russia) AND sanctions", {"russia", "sanction"}),
    ("(Iran OR Venezuela) AND sanctions", None),
    ("-oil sanctions", None),
    ("NOT Iran AND NOT gas AND Russia", {"russia"}),
])
def test_boolean_operators(query, expected):
    target = article("Sanctions on Russian oil: the EU targets Russia's exports.")
    assert matched(query, target, ["en"]) == expected


# --- the index ------------------------------------------------------------------------------------

def names(found) -> list[str]:
    return [match.rule.name for match in found]


@pytest.fixture
def index() -> RuleIndex:
    return RuleIndex(LANGUAGES)


def test_index_matches_rules_and_leaves_others(index):
    index.add(Rule(name="sanctions", query="sanctions"))
    index.add(Rule(name="embargo", query="embargo"))
    index.add(Rule(name="shipping", query='"shipping firm"'))
    found = index.match(article("A new sanction hits the shipping firm."))
    assert names(found) == ["sanctions", "shipping"]
    assert found[0].matched_terms == {"sanction"}
    assert len(index) == 3


def test_filters_on_language_source_and_entity(index):
    index.add(Rule(name="any", query="sanctions"))
    index.add(Rule(name="french", query="sanctions", lang="fr"))
    index.add(Rule(name="wire", query="sanctions", source="example wire"))
    index.add(Rule(name="gazprom", query="sanctions", entity="gazprom"))
    english = article("New sanctions on Gazprom.", source="Example Wire", entities=("Gazprom",))
    french = article("De nouvelles sanctions contre Gazprom.", "fr", source="Other")
    assert names(index.match(english)) == ["any", "gazprom", "wire"]
    assert names(index.match(french)) == ["any", "french"]


def test_a_language_filter_restricts_the_analysis_too(index):
    index.add(Rule(name="english", query="sanctions", lang="en"))
    assert names(index.match(article("Sanctions were lifted."))) == ["english"]
    assert compile_query("sanctions", ["en"]).triggers == {"sanction"}  # what the rule's lang compiles to
    assert compile_query("sanctions", LANGUAGES).triggers > {"sanction"}  # other languages keep the -s


def test_remove_takes_a_rule_out_and_forgets_its_terms(index):
    target = article("New sanctions.")
    index.add(Rule(name="a", query="sanctions"))
    index.add(Rule(name="b", query="sanctions"))  # the same query, compiled once
    assert index.remove("a") is True
    assert names(index.match(target)) == ["b"]
    assert index.remove("b") is True
    assert index.remove("b") is False
    assert len(index) == 0
    assert index.match(target) == []
    assert index.candidates(ArticleTerms.from_article(target)) == set()


def test_adding_a_rule_under_an_existing_name_replaces_it(index):
    index.add(Rule(name="watch", query="sanctions", webhook="https://hooks.example.org/a"))
    index.add(Rule(name="watch", query="embargo"))
    assert len(index) == 1
    assert index.match(article("New sanctions.")) == []
    assert names(index.match(article("An embargo."))) == ["watch"]
    assert index.get("watch").channels == []


def test_an_invalid_replacement_leaves_the_rule_in_force(index):
    index.add(Rule(name="watch", query="sanctions", webhook="https://hooks.example.org/a"))
    with pytest.raises(InvalidRuleQuery):
        index.add(Rule(name="watch", query="(sanctions"))
    assert names(index.match(article("New sanctions."))) == ["watch"]
    assert index.get("watch").channels == [Channel(kind="webhook", url="https://hooks.example.org/a")]


def test_make_alert_carries_the_article_and_a_marked_snippet(index):
    index.add(Rule(name="sanctions", query="sanctions"))
    target = article("Markets were calm.\n\nThe EU imposed new sanctions on <Acme> & Co.",
                     title="EU acts", id="art-7", source="Example Wire")
    alert = make_alert(index.match(target)[0], target)
    assert alert.id == alert_id("sanctions", "art-7")
    assert (alert.rule, alert.article_id, alert.title, alert.source) == ("sanctions", "art-7", "EU acts", "Example Wire")
    assert alert.matched_terms == ["sanction"]
    assert "<mark>sanctions</mark>" in alert.snippet and "&lt;Acme&gt; &amp; Co." in alert.snippet


def test_alert_id_is_stable_and_distinguishes_pairs():
    assert alert_id("sanctions", "a1") == alert_id("sanctions", "a1")
    assert alert_id("sanctions", "a1") != alert_id("sanctions", "a2")
    assert alert_id("a b", "c") != alert_id("a", "b c")


@pytest.mark.parametrize("fields", [
    {"name": "", "query": "x"},
    {"name": "no/slash", "query": "x"},
    {"name": "x" * 101, "query": "x"},
    {"name": "ok", "query": ""},
    {"name": "ok", "query": "x", "webhook": "ftp://example.org/hook"},
    {"name": "ok", "query": "x", "webhook": "https://"},
])
def test_invalid_rules_are_refused(fields):
    with pytest.raises(ValidationError):
        Rule(**fields)


# --- the index finds exactly what evaluating every rule finds ----------------------------------------

HANDWRITTEN_ARTICLES = [
    article("The Bank of England raised rates as sanctions on Russia widened.", id="h1", entities=("Bank of England",)),
    article("Les sanctions internationales contre la Russie se durcissent.", "fr", id="h2"),
    article("Die Sanktionen gegen Russland bleiben in Kraft.", "de", id="h3", source="Example Wire"),
    article("Covid 19 cases rose; officials said on Monday.", id="h4", title="Covid update"),
]
HANDWRITTEN_RULES = [
    Rule(name="h-sanctions", query="sanctions"), Rule(name="h-boe", query='"Bank of England"'),
    Rule(name="h-said-bez", query='"said Bez"'), Rule(name="h-covid", query="covid-19 -Russia"),
    Rule(name="h-sanktion-de", query="Sanktion", lang="de"), Rule(name="h-or", query="(Russland OR Russie) AND sanctions"),
    Rule(name="h-entity", query="rates OR cases", entity="bank of england"),
    Rule(name="h-source", query="Russia OR Russland", source="Example Wire"),
]


def corpus_articles(rows: list[dict], count: int) -> list[EnrichedArticle]:
    """Corpus rows as enriched articles (one language each; named entities: capitalised words)."""
    chosen = random.Random(1).sample(rows, min(count, len(rows)))
    return [
        article(row["body"], row.get("lang", "en"), title=row.get("title", ""), id=f"c{position}",
                source=row.get("source"), entities=tuple(sorted(set(re.findall(r"\b[A-Z][a-z]{3,}\b", row["body"])))[:20]))
        for position, row in enumerate(chosen)
    ]


def test_the_index_matches_exactly_the_rule_article_pairs_every_rule_evaluated_matches():
    rows = load_corpus_rows()
    articles = HANDWRITTEN_ARTICLES + corpus_articles(rows, 150)
    entities = sorted({entity.text for target in articles for entity in target.entities})
    index = RuleIndex(LANGUAGES)
    for rule in HANDWRITTEN_RULES + generate_rules(3000, rows, entities, seed=7):
        index.add(rule)
    pairs = {(match.rule.name, target.id, match.matched_terms) for target in articles for match in index.match(target)}
    naive = {(match.rule.name, target.id, match.matched_terms) for target in articles for match in index.match_naive(target)}
    assert pairs == naive
    assert len(pairs) > len(articles)  # the rules do match: the equality is not between two empty sets
    assert {"h-sanctions", "h-boe", "h-covid", "h-sanktion-de", "h-or", "h-entity", "h-source"} <= {p[0] for p in pairs}
    assert "h-said-bez" not in {p[0] for p in pairs}


def test_a_rule_gives_its_words_per_language_and_each_matches_only_text_in_it(index):
    from processors.config import PipelineConfig
    from processors.pipeline import process_messages
    from newsstream.settings import PROJECT_ROOT

    payloads = (PROJECT_ROOT / "samples" / "articles-de-es.jsonl").read_bytes().splitlines()
    german, spanish = process_messages(payloads, PipelineConfig(spacy_models=()))
    assert (german.language, spanish.language) == ("de", "es")
    index.add(Rule(name="borders and housing", query='de:Grenzen OR es:(vivienda OR "plan de vivienda")'))
    # Each word analysed by its own language ("Grenzen" finds "Grenze", "vivienda" "viviendas")…
    assert names(index.match(german)) == names(index.match(spanish)) == ["borders and housing"]
    # … and only in articles with text in that language.
    index.add(Rule(name="spanish word in german", query="de:viviendas"))
    assert "spanish word in german" not in names(index.match(spanish))
    assert names(index.match(article("The border is closed.", "en"))) == []


def test_a_word_excluded_in_one_language_is_excluded_only_there():
    # An excluded word in one language leaves the others alone.
    query = compile_query("sanctions AND NOT de:Sport", ["en", "de"])
    assert matches(query, ArticleTerms.from_article(article("Sanctions hit sport clubs.", "en")))
    assert not matches(query, ArticleTerms.from_article(article("Sanktionen treffen den Sport.", "de")))


def test_accepted_words_join_the_query_in_their_languages(index):
    query = expanded_query("sanctions", {"de": ["Sanktionen", "EU-Sanktionen"], "es": ["sanciones"], "it": []})
    assert query == '(sanctions) OR de:(Sanktionen OR "EU-Sanktionen") OR es:(sanciones)'
    assert expanded_query("sanctions", {}) == "sanctions"
    index.add(Rule(name="watch", query=query))
    assert names(index.match(article("Neue Sanktionen gegen Reedereien.", language="de"))) == ["watch"]
    assert names(index.match(article("Nuevas sanciones a navieras.", language="es"))) == ["watch"]


def _may_match(query: dict, target: EnrichedArticle) -> bool:
    """What Elasticsearch does with a stored-candidates query on the article's term fields."""
    fields = {"title_terms": set(target.title_terms.split()), "body_terms": set(target.body_terms.split())}
    return any(fields[field] & set(terms) for clause in query["bool"]["should"] for field, terms in clause["terms"].items())


@pytest.mark.parametrize("query", ["sanctions", '"Bank of England" -inflation', "(embargo OR Sanktionen) Russland",
                                   "de:Sanktionen OR fr:sanctions"])
def test_every_stored_article_a_rule_matches_is_among_its_candidates(query: str) -> None:
    """`alerts test` reads only the candidates: none of the rule's matches may be missing there."""
    index = RuleIndex(LANGUAGES)
    index.add(Rule(name="r", query=query))
    candidates_query = index.stored_candidates_query()
    stored = [article("Sanctions on Russia were widened.", id="en1"),
              article("The Bank of England held rates; inflation fell.", id="en2"),
              article("The Bank of England held rates.", title="Rates", id="en3"),
              article("Neue Sanktionen gegen Russland.", "de", id="de1"),
              article("Les sanctions contre la Russie.", "fr", id="fr1"),
              article("Nothing to see here.", id="en4")]
    matched_ids = {target.id for target in stored if index.match(target)}
    assert matched_ids, "the fixture should match something"
    assert matched_ids <= {target.id for target in stored if _may_match(candidates_query, target)}
    assert not _may_match(candidates_query, stored[-1])
