import re

import pytest

from newsstream.settings import PROJECT_ROOT
from processors.clean import normalise_for_nlp
from processors.config import PipelineConfig
from processors.entities import (
    EntityInput,
    TaggedEntities,
    clean_span,
    is_junk,
    load_ner_pipeline,
    tag_entities,
    trim_span,
    widen_to_words,
)

SEED = PROJECT_ROOT.parent / "shared" / "samples" / "seed-wire-dump.txt"
MODELS = PipelineConfig().model_map


def _unit(text: str, language: str, key: object = 0, field: str = "body", offset: int = 0) -> EntityInput:
    return EntityInput(key=key, field=field, offset=offset, text=text, language=language)


def _by_label(tagged: TaggedEntities) -> dict[str, set[str]]:
    labels: dict[str, set[str]] = {}
    for entity in tagged.entities:
        labels.setdefault(entity.label, set()).add(entity.text)
    return labels


def _assert_offsets(tagged: TaggedEntities, text: str, offset: int = 0) -> None:
    for entity in tagged.entities:
        for mention in entity.mentions:
            assert text[mention.start - offset:mention.end - offset] == entity.text


# --- The pipeline -------------------------------------------------------------------------------


def test_pipeline_has_only_what_ner_needs_and_is_loaded_once():
    nlp = load_ner_pipeline("en", MODELS)
    assert nlp.pipe_names == ["senter", "ner"]
    assert load_ner_pipeline("en", MODELS) is nlp


def test_no_pipeline_for_a_language_without_a_configured_model():
    assert "ja" not in MODELS
    assert load_ner_pipeline("ja", MODELS) is None


# --- Tagging with the real models ---------------------------------------------------------------

FRENCH = (
    "Le président Emmanuel Macron a reçu Olaf Scholz à Paris, a indiqué l'Elysée. "
    "Selon l'ONU, la Banque mondiale prévoit une croissance faible en Allemagne."
)
ENGLISH = (
    "Joe Biden met Angela Merkel in Washington on Monday, the White House said. Microsoft's chief "
    "executive Satya Nadella visited Volkswagen in Wolfsburg in March 2023."
)


def test_french_persons_locations_organisations_with_offsets():
    tagged = tag_entities([_unit(FRENCH, "fr")], MODELS)[0]
    labels = _by_label(tagged)
    assert {"Emmanuel Macron", "Olaf Scholz"} <= labels["person"]
    assert {"Paris", "Allemagne"} <= labels["location"]
    assert "ONU" in labels["organization"]  # the elided article is not part of the name
    assert not any(text.startswith(("l'", "la ", "Le ")) for texts in labels.values() for text in texts)
    _assert_offsets(tagged, FRENCH)
    assert tagged.ner_unavailable == []


def test_english_persons_locations_organisations_dates_dropped():
    tagged = tag_entities([_unit(ENGLISH, "en")], MODELS)[0]
    labels = _by_label(tagged)
    assert {"Joe Biden", "Angela Merkel", "Satya Nadella"} <= labels["person"]
    assert {"Washington", "Wolfsburg"} <= labels["location"]
    assert {"Microsoft", "Volkswagen"} <= labels["organization"]  # without the possessive
    every_text = {text for texts in labels.values() for text in texts}
    assert not every_text & {"Monday", "March 2023", "2023"}
    _assert_offsets(tagged, ENGLISH)


def test_offsets_are_translated_into_the_field():
    body = "Intro paragraph.\n\nTim Cook said Apple would open a store in London."
    start = body.index("Tim")
    tagged = tag_entities([_unit(body[start:], "en", offset=start)], MODELS)[0]
    assert {"Tim Cook", "Apple", "London"} <= {entity.text for entity in tagged.entities}
    _assert_offsets(tagged, body)


def test_mentions_of_one_entity_are_merged_across_units_and_ordered():
    title = "Apple and Microsoft shares fell in New York"
    body = "Tim Cook said Apple would open a store in London. Apple shares rose later."
    tagged = tag_entities([
        _unit(title, "en", key="a", field="title"),
        _unit(body, "en", key="a", field="body", offset=0),
    ], MODELS)["a"]
    apple = tagged.entities[0]
    assert (apple.text, apple.label, apple.count) == ("Apple", "organization", 3)
    assert [(m.field, m.start) for m in apple.mentions] == [
        ("title", 0), ("body", body.index("Apple")), ("body", body.rindex("Apple"))
    ]
    assert [entity.count for entity in tagged.entities] == sorted(
        (entity.count for entity in tagged.entities), reverse=True
    )


def test_a_language_without_model_is_reported_and_never_tagged_by_another_model():
    units = [
        _unit("Angela Merkel besuchte Paris und traf Emmanuel Macron.", "de", key=1),
        _unit("岸田文雄首相は東京で記者会見を開いた。", "ja", key=1),
        _unit("Angela Merkel visited Paris.", "und", key=2),
    ]
    tagged = tag_entities(units, {"en": MODELS["en"]})  # German and Japanese without a model here
    assert tagged[1] == TaggedEntities(entities=[], ner_unavailable=["de", "ja"])
    # "und" is no language: skipped silently, not reported as unavailable.
    assert tagged[2] == TaggedEntities()


def test_units_of_several_languages_keep_to_their_keys():
    tagged = tag_entities([_unit(FRENCH, "fr", key="fr"), _unit(ENGLISH, "en", key="en")], MODELS)
    assert "Emmanuel Macron" in _by_label(tagged["fr"])["person"]
    assert "Joe Biden" not in _by_label(tagged["fr"])["person"]
    assert "Joe Biden" in _by_label(tagged["en"])["person"]


# --- Junk rules (pure functions) ----------------------------------------------------------------


def _cleaned(span: str, language: str, label: str, context: str = "") -> str | None:
    text = context or span
    start = text.index(span)
    result = clean_span(text, start, start + len(span), language, label)
    return None if result is None else text[result[0]:result[1]]


@pytest.mark.parametrize(
    ("span", "language", "label", "expected"),
    [
        ("l'ONU", "fr", "organization", "ONU"),
        ("L'Ukraine", "fr", "location", "Ukraine"),
        ("d'Ukraine", "fr", "location", "Ukraine"),
        ("la France", "fr", "location", "France"),
        ("M. Hervé", "fr", "person", "Hervé"),
        ("Mme Zina Brozia", "fr", "person", "Zina Brozia"),
        ("président Wilson", "fr", "person", "Wilson"),
        ("de Gaulle", "fr", "person", "de Gaulle"),
        ("rue de Rivoli", "fr", "location", "rue de Rivoli"),
        ("the United Nations", "en", "organization", "United Nations"),
        ("The United States", "en", "location", "United States"),
        ("Microsoft's", "en", "organization", "Microsoft"),
        ("M. Waugh", "en", "person", "M. Waugh"),
        ("Dunfermline 2", "en", "location", "Dunfermline"),
        ("Channel 4", "en", "organization", "Channel 4"),
        ("Leopard 2", "en", "misc", "Leopard 2"),
        ("Banque centrale de", "fr", "organization", "Banque centrale"),
        ("Najla Bouden - la Première ministre", "fr", "person", "Najla Bouden"),
        ("US", "en", "location", "US"),
        ("G7", "en", "organization", "G7"),
        ('"Kim Jong-un,', "fr", "person", "Kim Jong-un"),
        ("(Moscou)", "fr", "location", "Moscou"),
        ("Bulletin (BAS)", "en", "organization", "Bulletin (BAS)"),
        ("U.S.", "en", "location", "U.S."),
    ],
)
def test_spans_are_trimmed_to_the_name(span, language, label, expected):
    assert _cleaned(span, language, label) == expected


@pytest.mark.parametrize(
    ("span", "language", "label"),
    [
        ("L'", "fr", "location"),
        ("d'", "fr", "organization"),
        ("Lundi", "fr", "location"),
        ("mercredi", "fr", "organization"),
        ("Monday", "en", "location"),
        ("Monday", "en", "person"),
        ("June", "en", "organization"),
        ("2023", "en", "organization"),
        ("« »", "fr", "misc"),
        ("président", "fr", "person"),
        ("Selon", "fr", "location"),
        ("M.", "fr", "person"),
        ("S", "fr", "location"),
        ("MM", "fr", "misc"),
        ("Pas", "fr", "location"),
        ("One Two Three Four Five Six Seven Eight Nine Ten Eleven", "en", "organization"),
    ],
)
def test_junk_spans_are_dropped(span, language, label):
    assert _cleaned(span, language, label) is None


def test_a_month_can_be_a_persons_name():
    assert not is_junk("May", "en", "person")
    assert is_junk("May", "en", "location")


@pytest.mark.parametrize(
    ("span", "label", "context", "expected"),
    [
        ("Kim Jong", "person", "Kim Jong-un a dit", "Kim Jong-un"),
        ("Fort Worth", "location", "the Dallas-Fort Worth airport", "Dallas-Fort Worth"),
        ("Paris", "location", "a Paris-based firm", "Paris"),
        ("Cameroun Connaissez", "location", "Cameroun Connaissez-vous", "Cameroun Connaissez"),
    ],
)
def test_spans_are_widened_to_hyphenated_names_only(span, label, context, expected):
    start = context.index(span)
    widened = widen_to_words(context, start, start + len(span), label)
    assert context[widened[0]:widened[1]] == expected


def test_trimming_and_widening_are_pure_offsets():
    text = 'Il a vu "Kim Jong-un", hier.'
    jong = text.index("Kim")
    assert widen_to_words(text, jong, jong + len("Kim Jong"), "person") == (jong, jong + len("Kim Jong-un"))
    quoted = text.index('"')
    assert trim_span(text, quoted, quoted + len('"Kim Jong-un",'), "fr", "person") == (
        jong, jong + len("Kim Jong-un")
    )
    # An apostrophe is not part of a word to widen across: "l'ONU" stays "ONU".
    assert widen_to_words("l'ONU", 2, 5, "organization") == (2, 5)


# --- The user's seed and its shipped twin -------------------------------------------------------

_FRENCH_WORDS = frozenset("le la les des du de et est une un dans pour que qui sur avec au".split())
_ENGLISH_WORDS = frozenset("the of and to in is a that for on with as by was".split())


def _crude_language(line: str) -> str:
    words = re.findall(r"\w+", line.lower())
    french = sum(word in _FRENCH_WORDS for word in words)
    return "fr" if french > sum(word in _ENGLISH_WORDS for word in words) else "en"


# Each dump: its path, the credit lines that end its first two articles, and per article (by position)
# the names that must be tagged. The seed is the user's (../shared); the seed-like dump is our own in the
# seed's style (no-break spaces around names, typographic apostrophes, English lines in French articles).
DUMPS = {
    "seed": (SEED, r"Text by 20 Minutes with AFP|RTS afp/fgn", {
        0: {"person": {"Vladimir Poutine", "Kim Jong-un", "Sergueï Lavrov", "Denis Mantourov", "John Kirby",
                       "Matthew Miller"},
            # md: "cosmodrome de Vostotchny" is misc
            "location": {"Corée du Nord", "Russie", "Moscou", "Pyongyang", "Ukraine", "Vladivostok"},
            "organization": {"ONU"}},
        2: {"person": {"Olaf Scholz", "Boris Pistorius"},
            "location": {"Germany", "Berlin", "Ukraine", "Poland", "Finland", "Warsaw"},
            "organization": {"Wall Street Journal", "NTV", "AFP", "Krauss-Maffei"}},
    }),
    "seed-like": (PROJECT_ROOT / "samples" / "seed-like-dump.txt", r"Text by 20 Minuten with AFP|RTS afp/lmr", {
        0: {"person": {"Irina Cebotari", "Victor Lungu", "Ana Rusu", "Sergiu Munteanu", "Pierre Delacroix"},
            "location": {"Moldavie", "Azerbaïdjan", "Bakou", "Chisinau", "Turquie", "Bulgarie", "Roumanie"},
            "organization": {"ONU", "Commission européenne", "Azertac"}},
        1: {"person": {"Claudia Berthod", "Margaret Ellison", "Louis Agassiz"},
            "location": {"Zurich", "Valais", "Canada"},
            "organization": {"World Glacier Monitoring Service"}},
        2: {"person": {"Karin Lindqvist", "Erik Sandberg"},
            "location": {"Sweden", "Stockholm", "Ukraine", "Norway", "Denmark"},
            "organization": {"Financial Times", "SVT", "AFP"}},
    }),
}


@pytest.mark.parametrize("dump", sorted(DUMPS))
def test_dump_articles_main_entities(dump):
    path, credit_lines, expected = DUMPS[dump]
    if not path.exists():
        pytest.skip(f"{path} absent")
    articles = re.split(rf"\n(?:{credit_lines})\n", path.read_text(encoding="utf-8"))
    assert len(articles) == 3
    units = [
        _unit(normalise_for_nlp(line.group()), _crude_language(line.group()), key=key, offset=line.start())
        for key, article in enumerate(articles)
        for line in re.finditer(r"[^\n]+", article)
    ]
    tagged = tag_entities(units, MODELS)
    for key, article in enumerate(articles):
        for entity in tagged[key].entities:
            for mention in entity.mentions:
                spelled = normalise_for_nlp(article[mention.start:mention.end])
                assert spelled in {normalise_for_nlp(name) for name in (entity.text, *entity.aliases)}

    for key, labels in expected.items():
        found = _by_label(tagged[key])
        for label, names in labels.items():
            assert names <= found.get(label, set()), f"article {key}/{label}: missing {names - found.get(label, set())}"


def test_a_surname_alone_joins_the_full_name_of_the_article() -> None:
    text = "Angela Merkel arrived in Paris on Monday. Merkel said the talks with Emmanuel Macron went well."
    (tagged,) = tag_entities([_unit(text, "en", key="a")], MODELS).values()
    merkel = next(entity for entity in tagged.entities if entity.text == "Angela Merkel")
    assert merkel.label == "person" and merkel.count == 2 and merkel.aliases == ["Merkel"]
    assert not [entity for entity in tagged.entities if entity.text == "Merkel"]


def test_an_acronym_joins_its_expansion_and_ambiguity_joins_nothing() -> None:
    from processors.entities import _Found, merge_entities
    from schemas.articles import Mention

    def found(text: str, label: str, start: int) -> _Found:
        return _Found(text, label, Mention(field="body", start=start, end=start + len(text)))

    merged = merge_entities([found("European Central Bank", "organization", 0), found("ECB", "organization", 40),
                             found("John Smith", "person", 60), found("Jane Smith", "person", 80),
                             found("Smith", "person", 100)])
    by_text = {entity.text: entity for entity in merged}
    assert by_text["European Central Bank"].aliases == ["ECB"] and by_text["European Central Bank"].count == 2
    assert "Smith" in by_text  # two Smiths in the article: the surname alone stays apart
