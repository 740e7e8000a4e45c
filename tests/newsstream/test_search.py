import json
from datetime import date, datetime, timedelta, timezone

import pytest

from newsstream.search import (
    DATE_BUCKETS,
    FACET_FIELDS,
    MAX_RESULT_WINDOW,
    DateBucket,
    EntityRef,
    PageOutOfRange,
    SearchFilters,
    SearchHit,
    build_search_body,
    date_buckets,
    entity_names,
    facets_from_aggregations,
    search_page,
)
from processors.analysis import query_terms
from processors.knowledge import KnowledgeBase, KnownEntity

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


def test_an_entity_filter_takes_an_id_or_any_spelling_of_a_name():
    body = build_search_body("*", LANGUAGES, SearchFilters(lang="fr", entities=("Sergueï Lavrov", "Q142")))
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"language": "fr"}} in filters
    lavrov, france = (clause["bool"]["should"] for clause in filters[1:])
    assert "per:sergei-lavrov" in lavrov[0]["terms"]["entity_ids"]  # the id of "Sergej Lawrow" too
    assert lavrov[1] == {"term": {"entity_keys": "sergei lavrov"}}
    assert "Q142" in france[0]["terms"]["entity_ids"]


def test_a_name_the_knowledge_base_knows_filters_on_its_id():
    kb = KnowledgeBase([(KnownEntity(id="Q649", label="location", kind="city", name="Moscow", names={},
                                     population=10_000_000, country="RU"), ["Moscou", "Moskau"])])
    [clause] = build_search_body("*", LANGUAGES, SearchFilters(locations=("Moskau",)), kb=kb)["query"]["bool"]["filter"]
    assert "Q649" in clause["bool"]["should"][0]["terms"]["location_ids"]


def test_every_entity_agency_and_source_must_hold():
    filters = build_search_body("*", LANGUAGES, SearchFilters(
        entities=("Olaf Scholz", "Berlin"), persons=("Kim Jong-un",), locations=("Pyongyang", "Moscou"),
        organizations=("KCNA",), agency="AFP", source="lemonde.fr"))["query"]["bool"]["filter"]
    fields = [next(iter(clause["bool"]["should"][0]["terms"])) for clause in filters if "bool" in clause]
    assert fields == ["entity_ids", "entity_ids", "person_ids", "location_ids", "location_ids", "organization_ids"]
    for clause in ({"term": {"agencies": "AFP"}}, {"term": {"source": "lemonde.fr"}}):
        assert clause in filters


def test_a_to_date_takes_in_its_whole_day_and_datetimes_are_exact():
    may = SearchFilters(published_from=date(2024, 5, 1), published_to=date(2024, 5, 31))
    day = build_search_body("*", LANGUAGES, may)
    assert {"range": {"published_at": {"gte": "2024-05-01", "lte": "2024-05-31||/d"}}} in day["query"]["bool"]["filter"]
    instant = datetime(2024, 5, 31, 12, tzinfo=timezone.utc)
    exact = build_search_body("*", LANGUAGES, SearchFilters(published_to=instant))
    assert {"range": {"published_at": {"lte": instant.isoformat()}}} in exact["query"]["bool"]["filter"]


def test_a_query_word_is_analysed_only_in_the_filtered_language():
    french = build_search_body("sanctions", LANGUAGES, SearchFilters(lang="fr"))["query"]["bool"]["must"][0]
    french_forms = " ".join(sorted(query_terms("sanctions", ["fr"])[0]))
    assert french["bool"]["should"][1]["match"]["body_terms"]["query"] == french_forms


def test_pages_and_facets_only_when_asked():
    plain = build_search_body("sanctions", LANGUAGES)
    assert "from" not in plain and "aggs" not in plain
    paged = build_search_body("sanctions", LANGUAGES, size=20, offset=40, with_facets=True)
    assert paged["from"] == 40 and paged["size"] == 20 and paged["track_total_hits"] is True
    assert set(paged["aggs"]) == set(FACET_FIELDS) | {"published", "stories"}
    assert paged["aggs"]["persons"]["terms"] == {"field": "person_ids", "size": 10}  # one entry per entity


def test_results_collapse_by_story_unless_asked_not_to():
    collapsed = build_search_body("sanctions", LANGUAGES, with_facets=True)
    assert collapsed["collapse"]["field"] == "story_id" and collapsed["collapse"]["inner_hits"]["name"] == "story"
    assert collapsed["aggs"]["stories"] == {"cardinality": {"field": "story_id"}}
    every = build_search_body("sanctions", LANGUAGES, with_facets=True, collapse=False)
    assert "collapse" not in every and "stories" not in every["aggs"]


def counts(buckets):
    return [(bucket.start, bucket.end, bucket.count) for bucket in buckets]


def test_a_few_days_are_day_buckets_with_the_empty_days_between():
    buckets = date_buckets({date(2024, 5, 1): 2, date(2024, 5, 3): 1})
    assert counts(buckets) == [(date(2024, 5, 1), date(2024, 5, 1), 2), (date(2024, 5, 2), date(2024, 5, 2), 0),
                               (date(2024, 5, 3), date(2024, 5, 3), 1)]


@pytest.mark.parametrize(("last_day", "first_bucket"), [
    (date(2024, 6, 30), (date(2024, 4, 29), date(2024, 5, 5))),  # 61 days: weeks from Monday
    (date(2025, 6, 30), (date(2024, 5, 1), date(2024, 5, 31))),  # 14 months
    (date(2029, 12, 31), (date(2024, 4, 1), date(2024, 6, 30))),  # 23 quarters
    (date(2040, 1, 1), (date(2024, 1, 1), date(2024, 12, 31))),  # 17 years
])
def test_longer_spans_take_the_finest_interval_with_at_most_24_buckets(last_day, first_bucket):
    buckets = date_buckets({date(2024, 5, 1): 1, date(2024, 5, 2): 1, last_day: 3})
    assert len(buckets) <= DATE_BUCKETS
    assert (buckets[0].start, buckets[0].end) == first_bucket and buckets[0].count == 2
    assert buckets[-1].start <= last_day <= buckets[-1].end and buckets[-1].count == 3
    assert all(after.start == before.end + timedelta(days=1) for before, after in zip(buckets, buckets[1:]))


def test_centuries_apart_fall_back_to_decades_however_many():
    buckets = date_buckets({date(1, 1, 1): 1, date(9999, 12, 31): 1})
    assert buckets[0].start == date(1, 1, 1) and buckets[-1].start == date(9990, 1, 1)
    assert sum(bucket.count for bucket in buckets) == 2


def test_facets_read_from_the_aggregations():
    aggregations = {name: {"buckets": []} for name in FACET_FIELDS}
    aggregations["persons"] = {"buckets": [{"key": "Olaf Scholz", "doc_count": 3}]}
    aggregations["published"] = {"buckets": [{"key_as_string": "2024-05-01", "key": 0, "doc_count": 5}]}
    facets = facets_from_aggregations(aggregations)
    assert [(f.value, f.count) for f in facets.persons] == [("Olaf Scholz", 3)]
    assert facets.published == [DateBucket(start=date(2024, 5, 1), end=date(2024, 5, 1), count=5)]


@pytest.mark.parametrize(("page", "size"), [(0, 10), (1, 0), (MAX_RESULT_WINDOW // 10 + 1, 10)])
def test_a_page_beyond_the_result_window_is_refused_before_any_request(page, size):
    with pytest.raises(PageOutOfRange, match="not within the first"):
        search_page(None, "articles", "*", LANGUAGES, page=page, size=size)


def test_a_hit_dumps_to_plain_json_types_for_the_cli():
    hit = SearchHit(id="x", title="t", published_at=datetime(2024, 3, 11, 17, 42, tzinfo=timezone.utc),
                    language="en", languages=[], persons=[], locations=[], organizations=[], misc=[], agencies=[],
                    entities=[], score=1.0, snippets=[])
    assert json.loads(json.dumps(hit.model_dump()))["published_at"] == "2024-03-11T17:42:00+00:00"


class _NamingClient:
    """Answers the facet names' msearch with one stored article per asked id."""

    def __init__(self, stored: dict[str, str]) -> None:
        self.stored, self.asked = stored, []

    def msearch(self, searches):  # noqa: ANN001, ANN201
        bodies = searches[1::2]
        self.asked += [body["query"]["term"]["entity_ids"] for body in bodies]
        return {"responses": [
            {"hits": {"hits": [{"_source": {"entities": [{"id": entity_id, "name": self.stored[entity_id]}]}}]
                      if entity_id in self.stored else []}}
            for entity_id in (body["query"]["term"]["entity_ids"] for body in bodies)]}


def test_facet_names_come_from_the_page_hits_then_from_one_stored_article_each():
    aggregations = {name: {"buckets": []} for name in FACET_FIELDS}
    aggregations["persons"] = {"buckets": [{"key": "per:olaf-scholz", "doc_count": 3},
                                           {"key": "per:unknown", "doc_count": 1}]}
    aggregations["locations"] = {"buckets": [{"key": "Q64", "doc_count": 2}]}
    aggregations["published"] = {"buckets": []}
    hit = SearchHit(id="x", title="t", language="de", languages=[], persons=[], locations=[], organizations=[],
                    misc=[], agencies=[], entities=[EntityRef(id="Q64", name="Berlin", label="location")],
                    score=1.0, snippets=[])
    client = _NamingClient({"per:olaf-scholz": "Olaf Scholz"})
    names = entity_names(client, "articles", aggregations, [hit])
    assert names == {"Q64": "Berlin", "per:olaf-scholz": "Olaf Scholz"}
    assert client.asked == ["per:olaf-scholz", "per:unknown"]  # Berlin was on the page
    facets = facets_from_aggregations(aggregations, names)
    assert [(f.value, f.name) for f in facets.persons] == [("per:olaf-scholz", "Olaf Scholz"), ("per:unknown", None)]
