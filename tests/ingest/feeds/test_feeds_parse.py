from datetime import datetime, timezone
from pathlib import Path

import pytest

from ingest.feeds.parse import entry_key, html_to_text, normalise_url, parse_feed
from newsstream.settings import PROJECT_ROOT
from tests.ingest.feeds.conftest import CORPORA
from tests.ingest.feeds.feedserver import Item, atom_feed, rss_feed

REAL_FEEDS_DIR = CORPORA / "feeds"
# The shipped twins of the real feeds: our own small feeds (samples/feeds/) with the same kinds of
# mess: namespaces (media, dc, feedburner, prism), HTML escaped or in CDATA, tracking pixels, utm_ and
# fragment links, opaque guids, an xhtml Atom summary, an empty RSS 1.0 description beside content:encoded,
# ISO-8859-1 declared with CRLF lines, and ISO-8859-1 with no XML declaration nor RSS version.
SAMPLE_FEEDS_DIR = PROJECT_ROOT / "samples" / "feeds"
FEEDS = {  # file: (format, entries); the real ones (../shared) are skipped when absent
    REAL_FEEDS_DIR / "encoding.rss": ("rss20", 40),
    REAL_FEEDS_DIR / "guardian.rss": ("rss20", 55),
    REAL_FEEDS_DIR / "heise.atom": ("atom10", 15),
    REAL_FEEDS_DIR / "rss-1.rss": ("rss10", 69),
    REAL_FEEDS_DIR / "uolNoticias.rss": ("rss", 15),
    SAMPLE_FEEDS_DIR / "wire-rss2.rss": ("rss20", 4),
    SAMPLE_FEEDS_DIR / "desk.atom": ("atom10", 3),
    SAMPLE_FEEDS_DIR / "science-rdf.rss": ("rss10", 3),
    SAMPLE_FEEDS_DIR / "latin1-declared.rss": ("rss20", 3),
    SAMPLE_FEEDS_DIR / "latin1-undeclared.rss": ("rss", 3),
}


def _kind(path: Path) -> str:
    return "sample" if path.parent == SAMPLE_FEEDS_DIR else "real"


@pytest.mark.parametrize(("url", "expected"), [
    ("HTTPS://News.Example.COM/World/Story?id=7#comments", "https://news.example.com/World/Story?id=7"),
    ("https://news.example/a?utm_source=rss&id=3&UTM_Medium=feed", "https://news.example/a?id=3"),
    ("https://news.example/a?utm_campaign=x", "https://news.example/a"),
    ("https://news.example", "https://news.example/"),
    ("  https://news.example/a  ", "https://news.example/a"),
    ("urn:uuid:1225c695-cfb8-4ebb", "urn:uuid:1225c695-cfb8-4ebb"),
])
def test_urls_are_normalised(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


def test_url_keys_are_global_and_opaque_guids_belong_to_their_source() -> None:
    assert entry_key("wire", "HTTPS://News.Example/a#top") == entry_key("desk", "https://news.example/a?utm_source=x")
    assert entry_key("wire", "12345") == "wire|12345"
    assert entry_key("wire", "12345") != entry_key("desk", "12345")


def test_an_rss2_feed_becomes_entries() -> None:
    items = [Item("First <story>", "https://news.example/1?utm_source=rss", "<p>One &amp; two</p><script>x()</script><p>three</p>"),
             Item("Second", "https://news.example/2", "plain", guid="opaque-2")]
    feed = parse_feed(rss_feed("Wire", items, language="en-GB"), source="wire", url="https://news.example/feed")
    assert (feed.format, feed.title, feed.language, feed.problem) == ("rss20", "Wire", "en-GB", None)
    first, second = feed.entries
    assert first.key == first.link == "https://news.example/1"
    assert first.title == "First <story>"
    assert first.summary == "One & two\n\nthree"
    assert first.published_at == datetime(2024, 3, 5, 8, 30, tzinfo=timezone.utc)
    assert (second.key, second.link) == ("wire|opaque-2", "https://news.example/2")


def test_an_atom_feed_becomes_entries() -> None:
    items = [Item("Atom story", "https://news.example/atom/1", "<b>Bold</b> teaser")]
    feed = parse_feed(atom_feed("Desk", items), source="desk", url="https://news.example/atom.xml")
    [entry] = feed.entries
    assert (feed.format, entry.title, entry.summary, entry.author) == ("atom10", "Atom story", "Bold teaser", "Desk Writer")
    assert entry.key == "https://news.example/atom/1"


def test_rss1_and_rss091_are_read_too() -> None:
    rdf = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
      xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://news.example/"><title>RDF</title>
      <link>https://news.example/</link><description>d</description></channel>
      <item rdf:about="https://news.example/r1"><title>R1</title><link>https://news.example/r1</link>
      <description>RDF teaser</description></item></rdf:RDF>"""
    rss091 = b"""<?xml version="1.0"?><rss version="0.91"><channel><title>Old</title><link>https://news.example/</link>
      <description>d</description><language>fr</language><item><title>O1</title><link>https://news.example/o1</link>
      <description>Old teaser</description></item></channel></rss>"""
    for document, version, summary in ((rdf, "rss10", "RDF teaser"), (rss091, "rss091u", "Old teaser")):
        feed = parse_feed(document, source="s", url="https://news.example/feed")
        assert feed.format == version
        assert [entry.summary for entry in feed.entries] == [summary]


@pytest.mark.parametrize("document", [b"<html><body><p>A web page</p></body></html>", b"", b"/etc/passwd"])
def test_what_is_not_a_feed_is_a_problem_not_an_exception(document: bytes) -> None:
    feed = parse_feed(document, source="s", url="https://news.example/feed", content_type="text/html")
    assert feed.entries == [] and feed.problem.startswith("not an RSS or Atom feed")


def test_html_to_text_keeps_paragraphs_and_drops_scripts_and_styles() -> None:
    html = "<div><h2>Head</h2><p>One <b>bold</b>\n word</p><style>p{}</style><ul><li>a</li><li>b</li></ul>tail<br>next</div>"
    assert html_to_text(html) == "Head\n\nOne bold word\n\na\n\nb\n\ntail\n\nnext"
    assert html_to_text("just text") == "just text"
    assert html_to_text("   ") == ""


def test_real_feeds_in_latin1_are_decoded() -> None:
    path = REAL_FEEDS_DIR / "uolNoticias.rss"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    feed = parse_feed(path.read_bytes(), source="uol", url="https://example.org/feed")
    assert "Líder na pesquisa Ibope" in feed.entries[0].summary


def test_every_shipped_feed_is_listed() -> None:
    assert sorted(path.name for path in SAMPLE_FEEDS_DIR.iterdir()) == sorted(
        path.name for path in FEEDS if _kind(path) == "sample")


@pytest.mark.parametrize("path", FEEDS, ids=lambda path: f"{_kind(path)}-{path.name}")
def test_every_feed_parses(path: Path) -> None:
    """The real feeds of ../shared/corpora (skipped when absent) and their shipped twins alike."""
    if not path.exists():
        pytest.skip(f"{path} is absent")
    feed = parse_feed(path.read_bytes(), source=_kind(path), url="https://example.org/feed",
                      content_type="application/xml")
    assert (feed.format, len(feed.entries), feed.problem) == (*FEEDS[path], None)
    assert all(entry.key and entry.title for entry in feed.entries)
    assert len({entry.key for entry in feed.entries}) == len(feed.entries)
    assert all("<" not in entry.summary for entry in feed.entries)


def test_shipped_rss2_feed_is_cleaned_up() -> None:
    feed = parse_feed((SAMPLE_FEEDS_DIR / "wire-rss2.rss").read_bytes(), source="wire", url="https://example.org/feed")
    strike, clean_air, fares, _live = feed.entries
    assert (feed.title, feed.language) == ("Example Wire – World", "en-gb")
    assert strike.key == strike.link == "https://wire.example.org/world/2026/mar/10/harbour-strike-ends"
    assert strike.summary.startswith("Dockers at the port of Eastmouth") and "Continue reading" in strike.summary
    assert strike.author == "Harriet Quill"
    assert clean_air.key == "wire|wire-politics-20260310-0042"  # an opaque guid belongs to its source
    assert clean_air.title == "Ministers’ “clean air” plan delayed again"
    assert fares.title == "Rail fares: what changes on 1 April & who pays more"  # CDATA
    assert fares.link == "https://wire.example.org/money/2026/mar/10/rail-fares-april"  # no #comments
    assert "track(" not in fares.summary and "4.1% & off-peak" in fares.summary


def test_shipped_feeds_in_latin1_are_decoded() -> None:
    declared = parse_feed((SAMPLE_FEEDS_DIR / "latin1-declared.rss").read_bytes(), source="je", url="https://example.org/feed")
    assert declared.title == "Jornal de Exemplo - Últimas Notícias"
    assert declared.entries[0].title == "Câmara de Valdoura aprova orçamento com votos contra da oposição"
    assert declared.entries[0].summary.startswith("A Câmara Municipal de Valdoura aprovou na terça-feira")
    assert declared.entries[0].published_at == datetime(2026, 1, 7, 13, 47, tzinfo=timezone.utc)  # padded pubDate
    undeclared = parse_feed((SAMPLE_FEEDS_DIR / "latin1-undeclared.rss").read_bytes(), source="ne", url="https://example.org/feed")
    assert "a prefeita Márcia Tavares abre 12 pontos" in undeclared.entries[0].summary
    assert undeclared.entries[2].title == "Exportações de café crescem 8% no trimestre"
