"""The composed stages, in-process: exactly one outcome per message, failures as dead letters."""
import orjson
import pytest
from hypothesis import given, settings, strategies as st

from newsstream.settings import PROJECT_ROOT
from processors import pipeline
from processors.config import PipelineConfig
from processors.pipeline import InvalidMessage, parse_message, process_messages
from schemas import DeadLetter, EnrichedArticle

CONFIG = PipelineConfig()

ARTICLE = {
    "title": "Sanctions against the regime widen",
    "body": "The European Union imposed new sanctions on Tuesday, said Ursula von der Leyen in Brussels.\n\n"
            "Les ministres réunis à Paris ont salué la décision de l’Union européenne.",
    "url": "https://example.org/sanctions",
}


@pytest.mark.parametrize(("payload", "reason"), [
    (b"\xff\xfe not utf-8", "not UTF-8"),
    (b"{not json", "not JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"title": "x", "body": ""}', "body"),
    (b'{"title": "x", "body": 7}', "body"),
    (b'{"title": 3, "body": "fine"}', "title"),
])
def test_parse_message_rejects_with_a_reason(payload, reason):
    with pytest.raises(InvalidMessage, match=reason):
        parse_message(payload, max_body_bytes=1000)


def test_body_over_the_size_limit_is_rejected():
    payload = orjson.dumps({"title": "big", "body": "word " * 400})
    with pytest.raises(InvalidMessage, match="over the limit"):
        parse_message(payload, max_body_bytes=1000)


def test_valid_and_invalid_messages_each_give_one_outcome_in_order():
    payloads = [orjson.dumps(ARTICLE), b"garbage", orjson.dumps({**ARTICLE, "url": "https://example.org/2"})]
    outcomes = process_messages(payloads, CONFIG)
    assert [type(o) for o in outcomes] == [EnrichedArticle, DeadLetter, EnrichedArticle]
    letter = outcomes[1]
    assert letter.stage == "validate" and "not JSON" in letter.error and letter.payload == b"garbage"
    article = outcomes[0]
    assert article.language == "en"
    assert {share.code for share in article.languages} == {"en", "fr"}
    assert "sanction" in article.title_terms.split()
    assert "Brussels" in article.entity_names("location") or "Brussels" in article.entity_names("organization")


def test_a_stage_raising_becomes_a_dead_letter_for_that_article_only(monkeypatch):
    real_clean = pipeline.clean_article

    def clean_that_breaks_on_one(title, body):
        if "BREAK" in body:
            raise RuntimeError("boom")
        return real_clean(title, body)

    monkeypatch.setattr(pipeline, "clean_article", clean_that_breaks_on_one)
    outcomes = process_messages([orjson.dumps({"title": "t", "body": "BREAK me"}), orjson.dumps(ARTICLE)], CONFIG)
    assert isinstance(outcomes[0], DeadLetter) and outcomes[0].stage == "clean" and "boom" in outcomes[0].error
    assert isinstance(outcomes[1], EnrichedArticle)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(payload):
    outcomes = process_messages([payload], PipelineConfig(max_body_bytes=10_000))
    assert len(outcomes) == 1


def test_the_feed_language_hint_decides_an_article_too_short_to_tell() -> None:
    short = {"title": "Prix Nobel", "body": "Berlin dit oui"}
    unhinted, hinted = process_messages([orjson.dumps(short), orjson.dumps({**short, "metadata": {
        "language_hint": "fr"}})], CONFIG)
    assert unhinted.language != "fr" and hinted.language == "fr"


def test_a_whole_html_page_as_body_keeps_only_the_article() -> None:
    page = (PROJECT_ROOT / "samples" / "pages" / "en-harbour-ferry.html").read_text(encoding="utf-8")
    (article,) = process_messages([orjson.dumps({"title": "Harbour ferry", "body": page})], CONFIG)
    assert isinstance(article, EnrichedArticle)
    assert "cookie" not in article.body.lower() and "newsletter" not in article.body.lower()
