import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.analysis import Term, analyze, analyze_with_offsets, query_terms, surface_forms

SAMPLED = ("ar", "de", "en", "es", "fr", "hi", "it", "ja", "ru", "sv", "th", "tr", "zh", "und")


def surfaces(text: str, language: str) -> list[str]:
    return [text[term.start : term.end] for term in analyze_with_offsets(text, language)]


# Elision


@pytest.mark.parametrize("apostrophe", ["'", "’"])
def test_french_elision_keeps_the_word(apostrophe):
    assert analyze(f"l{apostrophe}invitation", "fr") == analyze("invitation", "fr") == ["invit"]
    text = f"Qu{apostrophe}il vienne d{apostrophe}Ukraine"
    assert analyze(text, "fr") == analyze("vienne Ukraine", "fr")


def test_italian_elision():
    assert analyze("dell’anno", "it") == analyze("nell'anno", "it") == analyze("anno", "it")


def test_apostrophe_inside_a_word_is_kept_and_normalised():
    assert analyze("aujourd’hui", "fr") == analyze("aujourd'hui", "fr")
    assert analyze("aujourd'hui", "fr") != analyze("hui", "fr")


def test_english_possessive_and_turkish_suffix():
    assert analyze("Kim's", "en") == analyze("Kim", "en") == ["kim"]
    assert analyze("Ankara’da", "tr") == analyze("Ankara", "tr")


# Stop words, stemming, accents


def test_stop_words_are_removed_per_language():
    assert analyze("Les sanctions de l’Union et la Russie", "fr") == ["sanction", "union", "russ"]
    assert analyze("The sanctions and the talks", "en") == ["sanction", "talk"]
    assert analyze("Die Sanktionen der Regierung", "de") == ["sanktion", "regier"]
    # "die" is only a stop word in German
    assert analyze("die", "en") == ["die"]


def test_inflected_forms_meet():
    assert analyze("sanctions", "fr") == analyze("sanction", "fr")
    assert analyze("sanctions", "en") == analyze("sanction", "en")
    assert analyze("Sanktionen", "de") == analyze("Sanktion", "de")
    assert analyze("sanciones", "es") == analyze("sanción", "es") == ["sancion"]


def test_accents_fold_after_stemming():
    assert analyze("SANCIÓN", "es") == analyze("sancion", "es")
    assert analyze("Coopération", "fr") == analyze("cooperation", "fr")
    assert analyze("cœur", "fr") == analyze("coeur", "fr")
    assert analyze("Müller Straße", "de") == analyze("Muller Strasse", "de")
    assert analyze("Café CRÈME", "und") == ["cafe", "creme"]  # no stemmer: lowercase and fold


def test_accents_that_are_letters_are_kept():
    assert analyze("Malmö", "sv") == ["malmö"]
    assert analyze("Malmö", "sv") != analyze("Malmo", "sv")
    assert analyze("IŞIK", "tr") == ["ışık"]  # Turkish I lowercases to dotless ı


def test_decomposed_accents_match_composed_ones():
    assert analyze("Coope\u0301ration", "fr") == analyze("Coopération", "fr")


def test_scripts_with_combining_marks_stay_whole_words():
    assert surfaces("हिन्दी समाचार", "hi") == ["हिन्दी", "समाचार"]


# Offsets


def test_offsets_point_at_the_surface_words():
    text = "Poutine a accepté l’invitation de Kim Jong-un; les Sanctions"
    terms = analyze_with_offsets(text, "fr")
    assert surfaces(text, "fr") == ["Poutine", "accepté", "invitation", "Kim", "Jong", "Sanctions"]
    assert terms[-1] == Term("sanction", text.index("Sanctions"), len(text))
    assert analyze(text, "fr") == [term.term for term in terms]


def test_spaceless_scripts_become_bigrams():
    text = "北京大学的学生 iPhone手机"
    assert analyze(text, "zh") == ["北京", "京大", "大学", "学的", "的学", "学生", "iphone", "手机"]
    assert surfaces(text, "zh")[:2] == ["北京", "京大"]
    assert surfaces(text, "zh")[-2:] == ["iPhone", "手机"]
    assert analyze("北", "zh") == ["北"]


# Queries


ALL = tuple("ar cs da de en es fi fr hi id is it ja ko nl pl pt ro ru sv th tr vi zh".split())


@pytest.mark.parametrize("word", ["sanction", "sanctions", "Sanctions"])
def test_query_word_meets_french_and_english_bodies(word):
    (alternatives,) = query_terms(word, ALL)
    assert analyze("des sanctions", "fr")[0] in alternatives
    assert analyze("the sanctions", "en")[0] in alternatives


@pytest.mark.parametrize(
    ("query", "body", "language"),
    [
        ("Sanktion", "Sanktionen", "de"),
        ("Leopard", "Leopard", "en"),
        ("Leopard", "Leopard", "de"),
        ("sanciones", "la sanción", "es"),
        ("sanción", "las sanciones", "es"),
    ],
)
def test_query_word_meets_inflected_body(query, body, language):
    (alternatives,) = query_terms(query, ALL)
    assert analyze(body, language)[-1] in alternatives


def test_query_stop_words():
    # "die" is a German stop word but an English verb; "the" and "of" are stop words in both lists.
    assert query_terms("die Sanktionen", ["de", "en"]) == [
        frozenset({"die"}), frozenset({"sanktion", "sanktionen"})
    ]
    assert query_terms("the sanctions of", ["en"]) == [frozenset({"sanction"})]
    assert query_terms("", ALL) == []


def test_query_in_a_spaceless_script_needs_every_bigram():
    assert query_terms("北京大学", ["zh", "ja"]) == [
        frozenset({"北京"}), frozenset({"京大"}), frozenset({"大学"})
    ]


# Properties


@settings(max_examples=300, deadline=None)
@given(text=st.text(), language=st.sampled_from(SAMPLED))
def test_any_text_analyses_with_ordered_offsets_in_bounds(text, language):
    terms = analyze_with_offsets(text, language)
    assert analyze(text, language) == [term.term for term in terms]
    for term in terms:
        assert 0 <= term.start < term.end <= len(text)
        assert term.term
    assert [(t.start, t.end) for t in terms] == sorted((t.start, t.end) for t in terms)


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_any_query_gives_non_empty_alternatives(text):
    assert all(alternatives for alternatives in query_terms(text, ("fr", "en", "de", "tr")))


def test_a_term_is_shown_as_the_word_the_texts_write_most_for_it():
    texts = ["Neue Sanktionen gegen Russland.", "Die Sanktionen wirken, sagt die Sanktion."]
    assert surface_forms(texts, "de", ["sanktion", "russland", "absent"]) == {"sanktion": "Sanktionen",
                                                                            "russland": "Russland"}
