import json

import pytest
from hypothesis import given, settings, strategies as st

from ingest.wiredump import split_wire_dump
from newsstream.settings import PROJECT_ROOT
from processors.clean import (
    clean_article,
    credit_agencies,
    is_credit_line,
    is_junk_line,
    normalise_for_nlp,
)
from schemas import RawArticle

SAMPLES = PROJECT_ROOT / "samples"
SEED_DUMP = PROJECT_ROOT.parent / "shared" / "samples" / "seed-wire-dump.txt"


def assert_offsets_exact(cleaned):
    for paragraph in cleaned.paragraphs:
        assert cleaned.body[paragraph.start:paragraph.end] == paragraph.text
        assert paragraph.text and paragraph.text == paragraph.text.strip()
    assert cleaned.body == "\n\n".join(paragraph.text for paragraph in cleaned.paragraphs)


# --- Credit lines ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "agencies"), [
    ("Text by 20 Minutes with AFP", ["20 Minutes", "AFP"]),
    ("RTS afp/fgn", ["RTS", "AFP"]),
    ("20min.ch", ["20min.ch"]),
    ("www.lemonde.fr", ["lemonde.fr"]),
    ("(AFP)", ["AFP"]),
    ("avec AFP", ["AFP"]),
    ("© AFP 2023", ["AFP"]),
    ("Reuters", ["Reuters"]),
    ("dpa/xyz", ["dpa"]),
    ("ats/ansa", ["ATS", "ANSA"]),
    ("Keystone-ATS", ["Keystone-ATS"]),
    ("Par Jean Dupont avec AFP", ["AFP"]),
    ("Von Anna Schmidt, dpa", ["dpa"]),
    ("Source : Reuters", ["Reuters"]),
    ("Mit Material von dpa", ["dpa"]),
    ("Agence France-Presse", ["AFP"]),
    ("Photo: Keystone/Laurent Gillieron", ["Keystone"]),
])
def test_credit_lines_name_their_agencies(line, agencies):
    assert credit_agencies(line) == agencies
    assert is_credit_line(line)


@pytest.mark.parametrize("line", [
    "World-renowned weapon",
    "Saving time in 1991",
    "Finland and Poland ready to do it",
    "When questioned by AFP, the Social Democrat Chancellor's entourage declined to comment.",
    "AFP says no",
    "Le président a parlé à l’AFP de son projet de loi sur les retraites, adopté mardi.",
    "",
])
def test_prose_and_subheadings_are_not_credit_lines(line):
    assert not is_credit_line(line)


# --- Junk lines -----------------------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "fbpx", "pixel", "https://example.org/a/b?utm=1", "Share on Facebook", "Partager", "Partager sur Twitter",
    "Publicité", "Anzeige", "***", "12:30", "(adsbygoogle = window.adsbygoogle || []).push({});",
    "Nous utilisons des cookies pour améliorer votre expérience.", "Lire aussi : Le budget adopté",
    "Read more: Tanks for Ukraine", "Subscribe to our newsletter",
])
def test_junk_lines(line):
    assert is_junk_line(line)


@pytest.mark.parametrize("line", [
    "World-renowned weapon", "Saving time in 1991", "Des « perspectives » de coopération militaire",
    "The pixel count of the new camera doubled, Sony said.", "Email was the main channel, the report found.",
])
def test_real_lines_are_not_junk(line):
    assert not is_junk_line(line)


# --- clean_article --------------------------------------------------------------------------------

def test_credit_lines_leave_the_body_for_credits_and_agencies():
    cleaned = clean_article(
        "Title",
        "fbpx\n\nPar Jean Dupont avec AFP\n\nLe gouvernement a présenté son budget mercredi.\n\n"
        "Share on Facebook\n\nRTS afp/fgn\n\n20min.ch",
    )
    assert cleaned.body == "Le gouvernement a présenté son budget mercredi."
    assert cleaned.credits == ["Par Jean Dupont avec AFP", "RTS afp/fgn", "20min.ch"]
    assert cleaned.agencies == ["AFP", "RTS", "20min.ch"]


def test_subheadings_stay_as_their_own_paragraphs():
    cleaned = clean_article("T", "First paragraph ends here.\n\nWorld-renowned weapon\n\nSecond paragraph.")
    assert [p.text for p in cleaned.paragraphs] == [
        "First paragraph ends here.", "World-renowned weapon", "Second paragraph."]
    assert_offsets_exact(cleaned)


def test_hard_wrapped_lines_join_but_one_line_paragraphs_do_not():
    wrapped = clean_article("T", "The minister said the budget would be\npresented to parliament on Tuesday\nafternoon.")
    assert [p.text for p in wrapped.paragraphs] == [
        "The minister said the budget would be presented to parliament on Tuesday afternoon."]
    one_per_line = clean_article("T", "Short heading\nThe first paragraph is a sentence.\nThe second one too.")
    assert [p.text for p in one_per_line.paragraphs] == [
        "Short heading", "The first paragraph is a sentence.", "The second one too."]


def test_typographic_characters_kept_but_spaces_normalised():
    cleaned = clean_article("L’avis", "«\u00a0C’est\u202fnon\u00a0», a-t-il dit.\u200b Leopard 2″ tanks…\r\n\r\nFin.")
    assert cleaned.title == "L’avis"
    assert cleaned.body == "« C’est non », a-t-il dit. Leopard 2″ tanks…\n\nFin."
    assert_offsets_exact(cleaned)


def test_mojibake_is_repaired():
    cleaned = clean_article("CafÃ© society", "Le ThÃ©Ã¢tre de la Ville rouvre lâ€™hiver prochain.")
    assert cleaned.title == "Café society"
    assert cleaned.body == "Le Théâtre de la Ville rouvre l’hiver prochain."


def test_html_is_stripped_with_paragraph_breaks_and_without_script_content():
    html = (
        "<html><head><title>Page</title><style>p{color:red}</style></head><body>"
        "<h2>Heading</h2><p>First &amp; <b>bold</b> para-\ngraph.</p><script>var tracker = 1;</script>"
        "<noscript>Enable JS</noscript><ul><li>one</li><li>two</li></ul><p>Line<br>break &eacute;t&eacute;</p>"
        "<iframe src='https://example.com/ad'></iframe></body></html>"
    )
    cleaned = clean_article("<b>Bold</b> title", html)
    assert cleaned.title == "Bold title"
    assert [p.text for p in cleaned.paragraphs] == [
        "Heading", "First & bold para- graph.", "one", "two", "Line", "break été"]
    for gone in ("tracker", "Enable JS", "color", "Page", "<"):
        assert gone not in cleaned.body


def test_plain_text_with_angle_brackets_is_not_markup():
    cleaned = clean_article("a < b", "If a < b and c > d, then <3 is fine.")
    assert cleaned.title == "a < b"
    assert cleaned.body == "If a < b and c > d, then <3 is fine."


def test_all_junk_gives_an_empty_body():
    cleaned = clean_article("T", "fbpx\n\n***\n\nShare on Facebook")
    assert cleaned.body == "" and cleaned.paragraphs == []


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_clean_article_never_raises_and_offsets_hold(text):
    cleaned = clean_article(text, text)
    assert_offsets_exact(cleaned)
    assert "\n" not in cleaned.title


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<br>", "<script>", "</script>", "<div>", "a", " ", "\n",
                                 "&amp;", "’", "fbpx", "AFP", "<!--", "-->"]), max_size=40))
def test_clean_article_survives_broken_markup(pieces):
    assert_offsets_exact(clean_article("", "".join(pieces)))


# --- normalise_for_nlp ----------------------------------------------------------------------------

def test_normalise_for_nlp_makes_punctuation_ascii():
    assert normalise_for_nlp("l’idée « oui » – “2″” ‘x’ …\u00a0ok") == "l'idée \" oui \" - \"2\"\" 'x' . ok"


@given(st.text())
def test_normalise_for_nlp_preserves_length(text):
    assert len(normalise_for_nlp(text)) == len(text)


# --- Samples and seed -----------------------------------------------------------------------------

def test_sample_articles_clean_with_exact_offsets():
    lines = (SAMPLES / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    cleaned = [clean_article(raw.title, raw.body) for raw in map(RawArticle.model_validate_json, lines)]
    assert len(cleaned) >= 10
    for article in cleaned:
        assert article.paragraphs
        assert_offsets_exact(article)
        for credit in article.credits:
            assert credit not in article.body
    all_agencies = {agency for article in cleaned for agency in article.agencies}
    assert {"AFP", "Reuters", "dpa", "ANSA", "EFE"} <= all_agencies
    bodies = "\n".join(article.body for article in cleaned)
    assert "Théâtre" in bodies and "Ã" not in bodies
    assert "<" not in bodies and "trackPageView" not in bodies and "Share on Facebook" not in bodies


def test_sample_articles_cover_the_languages_and_topics_promised():
    records = [json.loads(line) for line in (SAMPLES / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    text = " ".join(record["title"] + " " + record["body"] for record in records)
    assert "sanctions" in text and "Sanktionen" in text and "Leopard" in text
    assert all(record["published_at"][-6] in "+-" for record in records)  # a timezone offset
    assert all("id" not in record for record in records)


@pytest.fixture(scope="module")
def seed_articles():
    if not SEED_DUMP.exists():
        pytest.skip(f"missing data: {SEED_DUMP}")
    return [clean_article(raw.title, raw.body) for raw in split_wire_dump(SEED_DUMP.read_text(encoding="utf-8"))]


def test_seed_bodies_lose_junk_and_credit_lines(seed_articles):
    assert len(seed_articles) == 3
    for article in seed_articles:
        for gone in ("fbpx", "Text by 20 Minutes", "RTS afp/fgn", "20min.ch"):
            assert gone not in article.body
        assert_offsets_exact(article)
    assert [article.credits for article in seed_articles] == [
        ["Text by 20 Minutes with AFP"], ["RTS afp/fgn"], ["20min.ch"]]


def test_seed_agencies(seed_articles):
    first, second, third = (article.agencies for article in seed_articles)
    assert "AFP" in first and "20 Minutes" in first
    assert {"AFP", "RTS"} <= set(second)
    assert third == ["20min.ch"]


def test_seed_keeps_typography_and_subheadings(seed_articles):
    first, second, third = seed_articles
    assert "L’idylle se poursuit" in first.body and "« Kim Jong-un a invité" in first.body
    assert "\u00a0" not in first.body
    assert "Saving time in 1991" in [p.text for p in second.paragraphs]
    assert "World-renowned weapon" in [p.text for p in third.paragraphs]
    assert "Leopard 2″ tanks" in third.body
