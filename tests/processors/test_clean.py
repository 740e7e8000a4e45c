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
    is_whole_page,
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


# The user's seed (../shared) and its shipped twin (samples/seed-like-dump.txt, written by us in the
# seed's style), with what cleaning must make of each: per article (in dump order) its credit lines, and
# the agencies the first two name at least and the third exactly; text each article's body keeps, and
# subheadings that stay paragraphs of their own. Both dumps have no-break spaces, which cleaning removes.
DUMPS = {
    "seed": {
        "path": SEED_DUMP,
        "credits": [["Text by 20 Minutes with AFP"], ["RTS afp/fgn"], ["20min.ch"]],
        "gone": ("fbpx", "Text by 20 Minutes", "RTS afp/fgn", "20min.ch"),
        "agencies": ({"AFP", "20 Minutes"}, {"AFP", "RTS"}, ["20min.ch"]),
        "kept": (("L’idylle se poursuit", "« Kim Jong-un a invité"), (), ("Leopard 2″ tanks",)),
        "subheadings": ((), ("Saving time in 1991",), ("World-renowned weapon",)),
    },
    "seed-like": {
        "path": SAMPLES / "seed-like-dump.txt",
        "credits": [["Text by 20 Minuten with AFP"], ["RTS afp/lmr"], ["24heures-exemple.ch"]],
        "gone": ("fbpx", "Text by 20 Minuten", "RTS afp/lmr", "24heures-exemple.ch"),
        # "20 Minuten" is an alias of the publisher "20 Minutes".
        "agencies": ({"AFP", "20 Minutes"}, {"AFP", "RTS"}, ["24heures-exemple.ch"]),
        "kept": (("L’agence azerbaïdjanaise Azertac", "« un partenariat énergétique"), (), ("CV90″ vehicles",)),
        "subheadings": (("Des « garanties » sur le transit du gaz",), ("Measuring ice since 1914",),
                        ("A tried and tested vehicle",)),
    },
}


@pytest.fixture(scope="module", params=sorted(DUMPS))
def dump(request):
    dump = DUMPS[request.param]
    if not dump["path"].exists():
        pytest.skip(f"missing data: {dump['path']}")
    text = dump["path"].read_text(encoding="utf-8")
    return {**dump, "text": text, "articles": [clean_article(raw.title, raw.body) for raw in split_wire_dump(text)]}


def test_dump_bodies_lose_junk_and_credit_lines(dump):
    assert len(dump["articles"]) == 3
    for article in dump["articles"]:
        for gone in dump["gone"]:
            assert gone not in article.body
        assert_offsets_exact(article)
    assert [article.credits for article in dump["articles"]] == dump["credits"]


def test_dump_agencies(dump):
    first, second, third = (article.agencies for article in dump["articles"])
    at_least_first, at_least_second, exactly_third = dump["agencies"]
    assert at_least_first <= set(first)
    assert at_least_second <= set(second)
    assert third == exactly_third


def test_dump_keeps_typography_and_subheadings(dump):
    for article, kept, subheadings in zip(dump["articles"], dump["kept"], dump["subheadings"], strict=True):
        for text in kept:
            assert text in article.body
        for subheading in subheadings:
            assert subheading in [p.text for p in article.paragraphs]
    assert "\u00a0" not in dump["articles"][0].body and "\u00a0" in dump["text"]


# --- Whole pages ----------------------------------------------------------------------------------

PAGES = SAMPLES / "pages"


@pytest.mark.parametrize("body", [
    "<!DOCTYPE html><title>T</title><p>Text</p>",
    "<html lang='en'><p>Text</p></html>",
    "<BODY class='story'><p>Text</p></BODY>",
    "<nav><a href='/'>Home</a></nav><p>Text</p>",
    "<header>Site</header><p>Text</p><footer>© Site</footer>",
    "<main><p>Text</p></main><aside>Related</aside>",
])
def test_whole_pages_are_recognised(body):
    assert is_whole_page(body)


@pytest.mark.parametrize("body", [
    "Plain text, no markup at all.",
    "<p>First paragraph.</p><p>Second <b>bold</b> paragraph.</p>",
    "<article><p>A lone wrapper is still a fragment.</p></article>",
    "<p>Text</p><aside>A pull quote</aside>",
    "<p>Text</p><footer>Photo: Keystone</footer>",
    "<!-- <nav> <html> --><p>Commented out</p>",
    "The <html tag and the <body tag, written about in prose.",
    "If a < b and c > d, then <3 is fine.",
])
def test_fragments_are_not_whole_pages(body):
    assert not is_whole_page(body)


SAMPLE_PAGES = {
    "en-harbour-ferry.html": (
        "Night ferry to return to Eastport harbour after two-year pause",
        [
            "The town council voted on Monday to bring back the night ferry between Eastport and the island of "
            "Marrow Point, two years after the service was halted because of rising fuel costs.",
            "Councillors approved a three-year contract with a local operator by eleven votes to four. The first "
            "crossing is planned for the spring, with departures every ninety minutes between nine in the evening "
            "and two in the morning.",
            "“Island workers have been sleeping on friends’ sofas since the last boat was cancelled,” said "
            "councillor Amos Fennick, who tabled the motion. “This puts an end to that.”",
            "A costly subsidy",
            "Opponents argued that the subsidy, estimated at 1.2 million a year, would be better spent on the "
            "harbour’s crumbling sea wall. The operator said the new vessel would run on a hybrid engine and burn "
            "a third less fuel than the old one.",
            "Tickets will cost the same as the daytime service, the council said.",
        ],
        ["By Harriet Quill, Reuters"], ["Reuters"],
        ["cookies", "Home", "Weather", "Read more", "Bridge repairs", "Related stories", "Sea wall survey",
         "newsletter", "Privacy policy", "All rights reserved", "The Coastal Ledger", "30 November", "dataLayer"],
    ),
    "fr-marche-couvert.html": (
        "Le marché couvert de Valbrune rouvrira ses portes en mars",
        [
            "Fermé depuis l’incendie de sa charpente il y a dix-huit mois, le marché couvert de Valbrune "
            "accueillera de nouveau ses commerçants au début du mois de mars, a annoncé mardi la municipalité.",
            "Les travaux, d’un montant de 4,3 millions d’euros, ont permis de remplacer la toiture et de mettre "
            "aux normes l’installation électrique. Une trentaine d’étals sont prévus, contre vingt-deux avant le "
            "sinistre.",
            "« Nous avons reçu plus de candidatures que de places disponibles », s’est félicitée l’adjointe "
            "chargée du commerce, Mireille Tastavin, qui promet une priorité aux producteurs locaux.",
            "Pendant la durée des travaux, les commerçants s’étaient installés sous des tentes sur la place de "
            "l’Église, une solution provisoire jugée peu pratique par de nombreux habitants en hiver.",
        ],
        ["Par Solène Garrigue avec AFP"], ["AFP"],
        ["cookies", "Accueil", "Économie", "Lire aussi", "parking", "festival", "boulangerie",
         "lettre d’information", "Mentions légales", "droits réservés", "Gazette", "bandeau"],
    ),
    "de-stadtbibliothek.html": (
        "Stadtbibliothek Hohenweil verlängert Öffnungszeiten",
        [
            "Die Stadtbibliothek Hohenweil öffnet ab Januar auch am Sonntagnachmittag. Das hat der "
            "Kulturausschuss am Donnerstag einstimmig beschlossen.",
            "Zusätzlich bleibt das Haus an Werktagen bis 21 Uhr geöffnet, zwei Stunden länger als bisher. "
            "Möglich machen das zwei neue Teilzeitstellen sowie ein Selbstverbuchungsautomat im Foyer.",
            "„Gerade Familien und Berufstätige haben sich das seit Jahren gewünscht“, sagte Bibliotheksleiterin "
            "Ottilie Brandhuber. Die Ausleihzahlen seien im vergangenen Jahr um zwölf Prozent gestiegen.",
            "Die zusätzlichen Kosten von rund 85.000 Euro im Jahr trägt die Stadt. Ein Förderverein will außerdem "
            "das Lesecafé im Erdgeschoss wiederbeleben.",
        ],
        ["Mit Material von dpa"], ["dpa"],
        ["Cookies", "Startseite", "Wirtschaft", "Mehr zum Thema", "Hallenbad", "Meistgelesen", "Baustelle",
         "Impressum", "Datenschutz", "Anzeiger"],
    ),
}


@pytest.mark.parametrize("name", SAMPLE_PAGES)
def test_sample_pages_keep_only_the_articles_paragraphs(name):
    title, expected, credits, agencies, gone = SAMPLE_PAGES[name]
    page = (PAGES / name).read_text(encoding="utf-8")
    assert is_whole_page(page)
    cleaned = clean_article(title, page)
    assert [p.text for p in cleaned.paragraphs] == expected
    assert cleaned.title == title
    assert title not in cleaned.body  # the headline repeated as the first paragraph is dropped
    for word in gone:
        assert word not in cleaned.body
    assert (cleaned.credits, cleaned.agencies) == (credits, agencies)
    assert "<" not in cleaned.body
    assert_offsets_exact(cleaned)


def test_page_headline_is_dropped_when_equal_to_the_title_once_normalised():
    page = (PAGES / "en-harbour-ferry.html").read_text(encoding="utf-8")
    shouted = clean_article("NIGHT FERRY to return to Eastport harbour after  two-year pause.", page)
    assert shouted.paragraphs[0].text.startswith("The town council voted")
    other = clean_article("Eastport gets its night ferry back", page)
    assert other.paragraphs[0].text == "Night ferry to return to Eastport harbour after two-year pause"
    assert len(other.paragraphs) == len(shouted.paragraphs) + 1


def test_a_page_with_too_little_main_text_has_its_markup_stripped():
    page = ("<html><body><nav><a href='/'>Home</a></nav><article><h1>Ferry returns</h1>"
            "<p>A short brief.</p></article><footer>© Site</footer></body></html>")
    cleaned = clean_article("Ferry returns", page)
    assert "A short brief." in cleaned.body  # too little main text: the markup is stripped instead
    assert_offsets_exact(cleaned)


def test_fragments_do_not_go_through_main_text_extraction(monkeypatch):
    import processors.clean as clean

    calls = []
    monkeypatch.setattr(clean, "_main_text", lambda page: calls.append(page))
    cleaned = clean_article("T", "<p>First &amp; <b>bold</b>.</p><p>Second.</p><p>Reuters</p>")
    assert [p.text for p in cleaned.paragraphs] == ["First & bold.", "Second."]
    assert cleaned.agencies == ["Reuters"]
    clean_article("T", "<html><body><p>A page.</p></body></html>")
    assert len(calls) == 1


def test_a_page_trafilatura_cannot_read_has_its_markup_stripped(monkeypatch):
    import processors.clean as clean

    class Broken:
        @staticmethod
        def extract(*args, **kwargs):
            raise RuntimeError("unreadable")

    monkeypatch.setattr(clean, "_trafilatura", lambda: Broken)
    page = (PAGES / "de-stadtbibliothek.html").read_text(encoding="utf-8")
    cleaned = clean_article("Stadtbibliothek Hohenweil verlängert Öffnungszeiten", page)
    assert "Die Stadtbibliothek Hohenweil öffnet ab Januar" in cleaned.body
    assert "Startseite" in cleaned.body  # the generic path keeps the navigation
    assert_offsets_exact(cleaned)


_PROSE = ("The council voted on Monday to bring back the night ferry between the town and the island, "
          "two years after the service was halted because of rising fuel costs. ")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["<html>", "<body>", "<nav>", "</nav>", "<header>", "</header>", "<article>",
                                 "</article>", "<footer>", "</footer>", "<p>", "</p>", "<h1>", "</h1>", "<br>",
                                 "<script>", "</script>", "<!--", "-->", "By Jane Roe, Reuters", "fbpx",
                                 "We use cookies.", _PROSE, "’", "&amp;", "\n"]), max_size=40),
       st.sampled_from(["", "By Jane Roe, Reuters", _PROSE.strip()]))
def test_clean_article_survives_broken_pages(pieces, title):
    assert_offsets_exact(clean_article(title, "".join(pieces)))
