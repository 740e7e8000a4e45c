"""The app as a whole: offline docs, the page, keys, error messages and metrics."""
from __future__ import annotations

import re

import httpx
import pytest

from tests.newsstream.api.conftest import WRITE_KEY, serve, with_keys

READ_KEY = "test-read-key"


def test_the_docs_load_swagger_ui_from_the_api_itself(client):  # noqa: ANN001
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by the API"
        assert client.get(asset).status_code == 200, asset
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/search", "/articles", "/alerts/rules", "/alerts/stream", "/healthz"} <= paths


def test_the_page_and_its_assets_are_served_locally_under_a_strict_policy(client):  # noqa: ANN001
    page = client.get("/")
    assert page.status_code == 200 and 'id="q"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset
    assert "http" not in "".join(re.findall(r'(?:src|href)="([^"]+)"', page.text))


def test_writes_are_refused_with_how_to_configure_a_key_when_the_server_has_none(service):  # noqa: ANN001
    with serve(with_keys(service.settings, write=None)) as url, httpx.Client(base_url=url) as http:
        for method, path, body in (("POST", "/articles", {"body": "text"}),
                                   ("POST", "/alerts/rules", {"name": "r", "query": "q"}),
                                   ("DELETE", "/alerts/rules/r", None)):
            refused = http.request(method, path, json=body, headers={"X-API-Key": "anything"})
            assert refused.status_code == 403, path
            assert "NEWSSTREAM_API_KEY" in refused.json()["detail"]


@pytest.mark.parametrize("key", [None, "", "wrong", WRITE_KEY + "x", "clé-non-ascii".encode()])
def test_writes_need_the_exact_write_key(api_url, key):  # noqa: ANN001
    headers = {"X-API-Key": key} if key is not None else {}
    refused = httpx.post(f"{api_url}/articles", json={"body": "text"}, headers=headers)
    assert refused.status_code == 401
    assert "X-API-Key" in refused.json()["detail"]


def test_a_read_key_closes_reads_and_the_write_key_opens_them_too(service):  # noqa: ANN001
    with serve(with_keys(service.settings, read=READ_KEY)) as url, httpx.Client(base_url=url) as http:
        assert http.get("/search").status_code == 401
        assert http.get("/alerts/rules", headers={"X-API-Key": "wrong"}).status_code == 401
        for key in (READ_KEY, WRITE_KEY):
            assert http.get("/search", headers={"X-API-Key": key}).status_code == 200
            assert http.get("/alerts", headers={"X-API-Key": key}).status_code == 200
        # The read key does not write; probes and the page stay open.
        assert http.post("/articles", json={"body": "x"}, headers={"X-API-Key": READ_KEY}).status_code == 401
        assert http.get("/healthz").status_code == 200
        assert http.get("/").status_code == 200


def test_reads_are_open_when_no_read_key_is_set(api_url):  # noqa: ANN001
    assert httpx.get(f"{api_url}/search").status_code == 200


@pytest.mark.parametrize(("params", "named"), [
    ({"size": 0}, "query parameter size"),
    ({"size": 101}, "query parameter size"),
    ({"page": 0}, "query parameter page"),
    ({"page": 1001, "size": 10}, "within the first 10000"),
    ({"from": "yesterday"}, "query parameter from: expected a date"),
    ({"from": "2024-05-02", "to": "2024-05-01"}, "from (2024-05-02) is after to (2024-05-01)"),
    ({"lang": "French"}, "query parameter lang"),
    ({"q": "x" * 1001}, "query parameter q"),
    ({"person": [f"name {n}" for n in range(21)]}, "query parameter person: List should have at most 20 items"),
])
def test_bad_search_parameters_are_422_naming_the_parameter(client, params, named):  # noqa: ANN001
    refused = client.get("/search", params=params)
    assert refused.status_code == 422
    assert named in refused.json()["detail"]


@pytest.mark.parametrize("query", ['((( AND', '"unclosed', 'title:x AND body:[1 TO', 'NOT', '*?~^2', "\\", "<script>",
                                   "🙂 日本語", "--", "a" * 1000])
def test_no_query_syntax_can_fail_a_search(client, query):  # noqa: ANN001
    answered = client.get("/search", params={"q": query})
    assert answered.status_code == 200, answered.text
    assert answered.json()["total"] == 0


def test_an_unreachable_elasticsearch_is_a_503_saying_so(service):  # noqa: ANN001
    unreachable = service.settings.model_copy(update={"elasticsearch_url": "http://127.0.0.1:1"})
    with serve(unreachable) as url:
        answered = httpx.get(f"{url}/search", params={"q": "sanctions"}, timeout=60)
    assert answered.status_code == 503
    assert answered.json() == {"detail": "Elasticsearch is unreachable"}  # where, and why, go to the log


def test_metrics_count_requests_by_route_template_searches_and_ingests(client):  # noqa: ANN001
    client.get("/articles/no-such-article")
    client.get("/search", params={"q": "anything"})
    client.get("/no/such/path")
    text = client.get("/metrics").text
    assert 'newsstream_api_requests_total{method="GET",route="/articles/{article_id}",status="404"} 1.0' in text
    assert 'route="/no/such/path"' not in text and 'route="unmatched",status="404"' in text
    assert re.search(r"^newsstream_api_searches_total [1-9]", text, re.MULTILINE)
    assert "newsstream_api_articles_ingested_total 0.0" in text
    assert 'newsstream_api_request_duration_seconds_count{method="GET",route="/search"}' in text
