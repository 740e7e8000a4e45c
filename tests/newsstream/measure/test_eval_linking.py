"""Entity-linking evaluation: the gold readers, the scoring with a fake linker, and the command."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsstream.cli.main import app
from newsstream.measure import linking
from newsstream.measure.linking import (
    GoldArticle,
    GoldMention,
    detect_format,
    elevant_label,
    evaluate_linking,
    gold_entities,
    language_from_path,
    read_elevant,
    read_gold,
    read_hipe,
    render_linking_report,
)
from newsstream.settings import PROJECT_ROOT
from schemas.articles import Entity

SAMPLES = PROJECT_ROOT / "samples" / "gold"
ELEVANT_SAMPLE = SAMPLES / "linking-sample.jsonl"
HIPE_SAMPLE = SAMPLES / "linking-sample.tsv"
runner = CliRunner()


def said(result) -> str:  # noqa: ANN001 - the console wraps long lines
    return " ".join(result.output.split())


def _linked(entity: Entity, entity_id: str, name: str = "") -> Entity:
    return entity.model_copy(update={"id": entity_id, "name": name or entity.text})


# What the fake "knows": surface form -> id. Everything else gets a name key, as the real linker does.
FAKE_IDS = {
    "Emmanuel Macron": "Q3052772", "Macron": "Q3052772", "Angela Merkel": "Q567",
    "Berlin": "Q821244",  # wrong: another Berlin
    "France": "Q142", "Germany": "geonames:2921044",  # not a QID: unlinked
    "European Union": "Q458", "Paris": "Q90", "Jean Dupontel": "Q99999999",  # a NIL given a QID
    "United Nations": "Q1065", "Geneva": "Q71", "Reuters": "Q130879",
    "Victor Hugo": "Q535", "Hugo": "Q535", "Lyon": "Q456", "Académie française": "Q161806",
    "Bundesrat": "Q30917", "Bern": "Q70", "Zürich": "Q11943",  # the canton: wrong
}


def fake_linker(calls: list[tuple[int, str]] | None = None):  # noqa: ANN201
    def link(entities: list[Entity], language: str) -> list[Entity]:
        if calls is not None:
            calls.append((len(entities), language))
        linked = [_linked(entity, FAKE_IDS.get(entity.text, f"{entity.label[:3]}:{entity.text.lower()}"))
                  for entity in entities]
        # merge entities with the same id, as the real linker may: the result no longer lines up by position
        merged: dict[str, Entity] = {}
        for entity in linked:
            if entity.id in merged:
                first = merged[entity.id]
                merged[entity.id] = first.model_copy(update={"mentions": [*first.mentions, *entity.mentions],
                                                             "count": first.count + entity.count})
            else:
                merged[entity.id] = entity
        return list(reversed(merged.values()))
    return link


# ---------------------------------------------------------------------------------------------- readers

def test_the_elevant_reader_keeps_names_and_leaves_out_coreferences_and_optional_labels() -> None:
    articles = read_gold(ELEVANT_SAMPLE)
    assert [article.language for article in articles] == ["en", "en"]
    for article in articles:
        for mention in article.mentions:
            assert article.text[mention.start:mention.end] == mention.text
    first, second = articles
    assert [(m.text, m.label, m.status, m.qid) for m in first.mentions] == [
        ("Emmanuel Macron", "person", "qid", "Q3052772"),
        ("Angela Merkel", "person", "qid", "Q567"),
        ("Berlin", "location", "qid", "Q64"),
        ("France", "location", "qid", "Q142"),
        ("Germany", "location", "qid", "Q183"),
        ("European Union", "organization", "qid", "Q458"),
        ("Macron", "person", "qid", "Q3052772"),
        ("Paris", "location", "qid", "Q90"),
        ("Jean Dupontel", "misc", "nil", ""),
    ]
    assert first.skipped == 3  # "Tuesday" (a date), "The French president" and "his" (coreferences)
    assert [(m.text, m.status) for m in second.mentions] == [
        ("United Nations", "qid"), ("Geneva", "qid"), ("Reuters", "qid"), ("Vernier Hall", "unknown"),
    ]
    assert second.skipped == 2  # a quantity, an optional label
    assert second.mentions[2].label == "organization" and second.mentions[2].name == "Reuters"


def test_elevant_types_map_to_our_labels_by_precedence() -> None:
    assert elevant_label("Q215627") == "person"
    assert elevant_label("Q27096213|Q43229") == "location"  # a country is also an organization
    assert elevant_label("Q2424752|Q43229") == "organization"
    assert elevant_label("Q12737077|Q4164871") == "misc"
    assert elevant_label("OTHER") == "misc"
    assert elevant_label("PERSON") == "person" and elevant_label("ORGANIZATION") == "organization"


def test_the_hipe_reader_rebuilds_the_text_and_reads_bio_mentions_and_links() -> None:
    articles = read_gold(HIPE_SAMPLE)
    assert [(article.id, article.language) for article in articles] == [
        ("SAMPLE-fr-1", "fr"), ("SAMPLE-de-1", "de"),
    ]
    french, german = articles
    assert french.text == ("Victor Hugo est mort à Paris. M. Jean Martin est venu de Lyon pour "
                           "l'Académie française. Paris pleure Hugo.")
    assert german.text.endswith("Die Zürcher Zeitung schrieb # darüber nichts.")  # a "#" token is a token
    for article in articles:
        for mention in article.mentions:
            assert article.text[mention.start:mention.end] == mention.text
    assert [(m.text, m.label, m.status, m.qid) for m in french.mentions] == [
        ("Victor Hugo", "person", "qid", "Q535"),
        ("Paris", "location", "qid", "Q90"),
        ("M. Jean Martin", "person", "nil", ""),
        ("Lyon", "location", "qid", "Q456"),
        ("Académie française", "organization", "qid", "Q161806"),
        ("Paris", "location", "qid", "Q90"),
        ("Hugo", "person", "qid", "Q535"),
    ]
    assert [(m.text, m.status) for m in german.mentions][-1] == ("Zürcher Zeitung", "unknown")


def test_hipe_adjacent_mentions_of_one_type_are_split_by_their_b_tag() -> None:
    lines = ["TOKEN\tNE-COARSE-LIT\tNE-COARSE-METO\tNE-FINE-LIT\tNE-FINE-METO\tNE-FINE-COMP\tNE-NESTED\t"
             "NEL-LIT\tNEL-METO\tMISC",
             "# document_id = d1",
             "Genf\tB-loc\tO\tO\tO\tO\tO\tQ71\t_\t_",
             "Bern\tB-loc\tO\tO\tO\tO\tO\tQ70\t_\tNoSpaceAfter",
             ",\tO\tO\tO\tO\tO\tO\t_\t_\t_"]
    (article,) = read_hipe(lines, language="de")
    assert article.text == "Genf Bern," and article.language == "de"
    assert [(m.text, m.qid) for m in article.mentions] == [("Genf", "Q71"), ("Bern", "Q70")]


def test_format_and_language_come_from_the_file() -> None:
    assert detect_format(ELEVANT_SAMPLE) == "elevant" and detect_format(HIPE_SAMPLE) == "hipe"
    assert language_from_path(Path("HIPE-data-v1.4-dev-fr.tsv")) == "fr"
    assert language_from_path(Path("HIPE-data-v1.4-test-de.tsv")) == "de"
    assert language_from_path(Path("news-fair-v2.benchmark.jsonl")) is None
    assert {article.language for article in read_gold(HIPE_SAMPLE, language="en")} == {"en"}


def test_the_linker_input_is_one_entity_per_surface_and_label() -> None:
    (french, _) = read_gold(HIPE_SAMPLE)
    entities = {entity.text: entity for entity in gold_entities(french)}
    assert entities["Paris"].count == 2 and entities["Paris"].label == "location"
    assert [(m.field, m.start, m.end) for m in entities["Paris"].mentions] == [("body", 23, 28), ("body", 89, 94)]
    assert entities["Hugo"].count == 1 and "Victor Hugo" in entities


# ---------------------------------------------------------------------------------------------- scoring

def test_scoring_counts_right_wrong_and_unlinked_per_label() -> None:
    calls: list[tuple[int, str]] = []
    report = evaluate_linking(read_gold(ELEVANT_SAMPLE), fake_linker(calls), gold_format="elevant")
    assert calls == [(9, "en"), (4, "en")]  # once per article; "Macron" and "Emmanuel Macron" two entities
    result = report.to_dict(errors=5)
    scores = {label: (s["mentions"], s["right"], s["wrong"], s["unlinked"]) for label, s in result["labels"].items()}
    assert scores == {
        "person": (3, 3, 0, 0),
        "location": (5, 3, 1, 1),  # Berlin wrong, Germany only a GeoNames id
        "organization": (3, 3, 0, 0),
        "misc": (0, 0, 0, 0),
    }
    assert result["labels"]["misc"]["nil"] == 1 and result["labels"]["misc"]["nil_linked"] == 1
    assert result["overall"]["mentions"] == 11 and result["overall"]["right"] == 9
    assert result["overall"]["right_share"] == pytest.approx(9 / 11)
    assert result["unknown"] == 1 and result["skipped"] == 5 and result["dropped"] == 0
    assert result["top_wrong"] == [{"label": "location", "surface": "Berlin", "gold": "Q64", "gold_name": "Berlin",
                                    "predicted": "Q821244", "predicted_name": "Berlin", "mentions": 1}]
    assert result["top_unlinked_locations"] == [{"label": "location", "surface": "Germany", "gold": "Q183",
                                                 "gold_name": "Germany", "predicted": "geonames:2921044",
                                                 "mentions": 1}]
    assert len(report.seconds) == 2


def test_a_mention_the_linker_drops_is_unlinked() -> None:
    article = GoldArticle(id="a", text="Paris", language="fr", mentions=(
        GoldMention(start=0, end=5, text="Paris", label="location", status="qid", qid="Q90"),))
    result = evaluate_linking([article], lambda entities, language: []).to_dict()
    assert result["labels"]["location"]["unlinked"] == 1 and result["dropped"] == 1


def test_hipe_scoring_and_limit() -> None:
    result = evaluate_linking(read_gold(HIPE_SAMPLE), fake_linker(), limit=1).to_dict()
    assert result["articles"] == 1 and result["languages"] == ["fr"]
    assert result["labels"]["person"]["right"] == 2 and result["labels"]["person"]["nil"] == 1
    assert result["labels"]["location"]["right"] == 3
    whole = evaluate_linking(read_gold(HIPE_SAMPLE), fake_linker()).to_dict(errors=3)
    assert whole["labels"]["location"]["wrong"] == 1  # Zürich, the canton
    assert whole["unknown"] == 1  # "Zürcher Zeitung", link "_"
    assert "Zürich" in render_linking_report(whole)


def test_the_report_renders_a_row_per_label() -> None:
    text = render_linking_report(evaluate_linking(read_gold(ELEVANT_SAMPLE), fake_linker()).to_dict(errors=3))
    for row in ("person", "location", "organization", "misc", "PER/LOC/ORG", "wrong links", "'Germany': Q183"):
        assert row in text


# ---------------------------------------------------------------------------------------------- command

@pytest.fixture
def faked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linking, "default_linker", lambda *args, **kwargs: fake_linker())


def test_eval_linking_prints_the_table(faked: None) -> None:
    result = runner.invoke(app, ["measure", "eval-linking", str(ELEVANT_SAMPLE), "--errors", "2"])
    assert result.exit_code == 0, result.output
    text = said(result)
    assert "Entity linking (en, elevant): 2 articles" in text
    assert "location 5 0.600 0.200 0.200" in text
    assert "'Berlin': Q64 Berlin -> Q821244 Berlin" in text


def test_eval_linking_json_on_hipe_with_options(faked: None) -> None:
    result = runner.invoke(app, ["measure", "eval-linking", str(HIPE_SAMPLE), "--json", "--limit", "1",
                                 "--format", "hipe", "--language", "fr"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["articles"] == 1 and report["format"] == "hipe" and report["languages"] == ["fr"]
    assert report["labels"]["organization"]["right_share"] == 1.0
    assert set(report["linker_time_per_article"]) == {"mean_ms", "median_ms", "p95_ms", "max_ms"}


def test_eval_linking_refuses_an_unknown_format(faked: None) -> None:
    result = runner.invoke(app, ["measure", "eval-linking", str(HIPE_SAMPLE), "--format", "conll"])
    assert result.exit_code == 1 and "--format takes elevant or hipe" in said(result)


def test_eval_linking_says_when_the_linker_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise linking.LinkerUnavailableError("the entity linker is not available: no knowledge base")
    monkeypatch.setattr(linking, "default_linker", unavailable)
    result = runner.invoke(app, ["measure", "eval-linking", str(ELEVANT_SAMPLE)])
    assert result.exit_code == 1 and "the entity linker is not available" in said(result)


def test_a_broken_gold_line_is_an_error_not_a_traceback(tmp_path: Path, faked: None) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n", encoding="utf-8")
    result = runner.invoke(app, ["measure", "eval-linking", str(broken)])
    assert result.exit_code == 1 and "cannot read" in said(result)


def test_the_real_linker_runs_on_the_sample_when_it_is_there() -> None:
    try:
        link = linking.default_linker()
    except linking.LinkerUnavailableError as error:
        pytest.skip(str(error))
    result = evaluate_linking(read_elevant(ELEVANT_SAMPLE.read_text(encoding="utf-8").splitlines()), link).to_dict()
    assert result["overall"]["mentions"] == 11
    assert result["overall"]["right"] + result["overall"]["wrong"] + result["overall"]["unlinked"] == 11
