from pathlib import Path

import pytest

from ingest.feeds.sources import FeedSource, SourcesError, load_sources
from newsstream.settings import PROJECT_ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.toml"
    path.write_text(text)
    return path


def test_the_shipped_example_loads() -> None:
    sources = load_sources(PROJECT_ROOT / "feeds.example.toml")
    assert [source.name for source in sources] == ["guardian-world", "heise", "lemonde-international"]
    assert sources[0] == FeedSource(name="guardian-world", url="https://www.theguardian.com/world/rss",
                                    interval_s=600, language="en", full_text=True)
    assert sources[2].full_text is False


def test_defaults_apply_to_a_minimal_source(tmp_path: Path) -> None:
    [source] = load_sources(write(tmp_path, '[sources.wire]\nurl = "https://news.example/feed.xml"\n'))
    assert (source.interval_s, source.language, source.full_text, source.host) == (900.0, None, False, "news.example")


@pytest.mark.parametrize(("text", "message"), [
    ("[sources.wire\nurl = 1", "not valid TOML"),
    ("title = 'no sources here'", "no [sources.NAME] tables"),
    ('[sources.wire]\nurl = "ftp://news.example/feed"', "source 'wire': url: Value error, must be an http"),
    ('[sources.wire]\nurl = "https://news.example/feed"\ninterval_s = 0', "source 'wire': interval_s"),
    ('[sources.wire]\nurl = "https://news.example/feed"\nfulltext = true', "source 'wire': fulltext: Extra inputs"),
    ('[sources."bad name"]\nurl = "https://news.example/feed"', "source 'bad name': name"),
    ("[sources]\nwire = 'https://news.example/feed'", "sources.wire must be a table"),
])
def test_mistakes_are_reported_with_the_source_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SourcesError, match=message.replace("[", r"\[").replace(".", r"\.")):
        load_sources(write(tmp_path, text))


def test_a_missing_file_points_to_the_example(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="no sources file at .*feeds.example.toml"):
        load_sources(tmp_path / "absent.toml")
