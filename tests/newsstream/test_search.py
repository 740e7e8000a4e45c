from newsstream.search import build_search_body

LANGUAGES = ("en", "fr", "de")


def required_and_optional(body):
    boolean = body["query"]["bool"]
    return boolean["must"], boolean["should"]


def test_every_word_is_required_in_any_of_its_language_forms():
    must, should = required_and_optional(build_search_body("sanctions Leopard", LANGUAGES))
    assert len(must) == 2 and not should
    first_word = must[0]["bool"]["should"][1]["match"]["body_terms"]["query"].split()
    assert "sanction" in first_word


def test_a_word_that_is_a_stop_word_somewhere_is_not_required():
    must, should = required_and_optional(build_search_body("Bank of England", LANGUAGES))
    assert len(must) == 2 and len(should) == 1
    assert should[0]["bool"]["should"][1]["match"]["body_terms"]["query"] == "of"


def test_only_stop_words_still_search_for_them_and_match_all_lists_newest_first():
    must, _ = required_and_optional(build_search_body("the who", ("en", "fr")))
    assert must[0]["bool"]["minimum_should_match"] == 1
    everything = build_search_body("*", LANGUAGES)
    assert everything["query"]["bool"]["must"] == [{"match_all": {}}] and everything["sort"]


def test_filters_on_language_and_entity():
    body = build_search_body("*", LANGUAGES, lang="fr", entity="Olaf Scholz")
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"language": "fr"}} in filters
    assert {"term": {"persons": "Olaf Scholz"}} in filters[1]["bool"]["should"]
