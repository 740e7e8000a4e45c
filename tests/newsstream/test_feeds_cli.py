from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsstream.cli.feeds import feeds_app
from newsstream.settings import Settings, get_settings


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Environment changes made through the fixture reach get_settings(), and none outlives the test."""
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_a_bad_sources_file_stops_before_anything_is_fetched(tmp_path: Path) -> None:
    broken = tmp_path / "feeds.toml"
    broken.write_text('[sources.wire]\nurl = "not a url"\n')
    for path, message in ((tmp_path / "absent.toml", "no sources file"), (broken, "source 'wire': url")):
        result = CliRunner().invoke(feeds_app, ["once", "--sources", str(path)])
        assert result.exit_code == 2
        assert message in result.output.replace("\n", "")


def test_the_default_sources_file_comes_from_the_settings(fresh_settings: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fresh_settings.setenv("NEWSSTREAM_FEEDS_SOURCES", str(tmp_path / "configured.toml"))
    result = CliRunner().invoke(feeds_app, ["run"])
    assert result.exit_code == 2 and "configured.toml" in result.output.replace("\n", "")


@pytest.mark.integration
def test_status_says_when_the_state_topic_is_missing(stack: Settings, fresh_settings: pytest.MonkeyPatch) -> None:
    fresh_settings.setenv("NEWSSTREAM_TOPIC_FEEDS_STATE", "test-feeds-cli-absent")
    result = CliRunner().invoke(feeds_app, ["status"])
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "test-feeds-cli-absent does not exist" in output and "newsstream setup" in output
