import pytest
from pydantic import ValidationError

from schemas import EnrichedArticle, RawArticle, article_id


def test_same_article_gets_same_id_whatever_the_fetch_time():
    first = RawArticle(title="T", body="Body text.", url="https://example.org/a")
    again = RawArticle(title="T changed", body="Other body.", url="https://EXAMPLE.org/a/#top")
    assert first.id == again.id


def test_id_without_url_depends_on_text_not_on_whitespace():
    a = article_id(url=None, source="wire", title="Hello  world", body="Body\n text")
    b = article_id(url=None, source="wire", title="hello world", body="body text")
    c = article_id(url=None, source="wire", title="hello world", body="another body")
    assert a == b != c


def test_given_id_is_kept():
    assert RawArticle(id="abc-1", title="t", body="b").id == "abc-1"


@pytest.mark.parametrize("data", [
    {"title": "no body"},
    {"title": "blank", "body": "   \n "},
    {"title": "wrong type", "body": 42},
    {"title": "bad id", "body": "x", "id": "a b/c"},
    {"title": "extra", "body": "x", "colour": "red"},
    {"title": "bad date", "body": "x", "published_at": "yesterday-ish"},
])
def test_invalid_articles_are_rejected(data):
    with pytest.raises(ValidationError):
        RawArticle.model_validate(data)


def test_json_schema_export_names_the_fields():
    schema = EnrichedArticle.model_json_schema()
    assert {"language", "languages", "entities", "agencies", "credits", "body_terms"} <= set(schema["properties"])
    assert set(schema["$defs"]["Entity"]["properties"]["label"]["enum"]) == {"person", "location", "organization", "misc"}
