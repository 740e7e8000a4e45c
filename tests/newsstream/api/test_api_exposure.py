"""What the API tells, and to whom: no secret in an error, security headers on every answer,
only the configured Host names, operations and docs behind a key when asked, bounded filters."""
from __future__ import annotations

import re
import socket

import httpx
import pytest

from tests.newsstream.api.conftest import WRITE_KEY, serve, with_keys

READ_KEY = "ops-read-key"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the probe is: nothing listens there


def test_an_elasticsearch_url_with_credentials_never_reaches_a_client(service, caplog):  # noqa: ANN001
    url = f"http://esuser:secretpw@127.0.0.1:{_closed_port()}/?token=tok3n"
    with serve(with_keys(service.settings).model_copy(update={"elasticsearch_url": url})) as api, \
            httpx.Client(base_url=api, timeout=60) as http:
        answers = {path: http.get(path) for path in ("/search?q=x", "/articles/x", "/alerts", "/healthz")}
    for path, answer in answers.items():
        assert answer.status_code == 503, (path, answer.text)
        for secret in ("secretpw", "esuser", "tok3n", "127.0.0.1"):
            assert secret not in answer.text, (path, answer.text)
    assert answers["/search?q=x"].json() == {"detail": "Elasticsearch is unreachable"}
    assert answers["/articles/x"].json() == {"detail": "Elasticsearch is unreachable"}
    health = answers["/healthz"].json()
    assert health["elasticsearch"] == {"ok": False, "detail": "Elasticsearch is unreachable"}
    assert "Elasticsearch" in caplog.text and "secretpw" not in caplog.text  # the detail is logged, redacted


def test_an_unreachable_kafka_is_named_but_not_located(service):  # noqa: ANN001
    broken = with_keys(service.settings).model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{_closed_port()}"})
    with serve(broken) as api, httpx.Client(base_url=api, timeout=120, headers={"X-API-Key": WRITE_KEY}) as http:
        health = http.get("/healthz")
        ingest = http.post("/articles", json={"body": "text"})  # kafka-python gives up bootstrapping after 30 s
    assert health.status_code == 503
    assert health.json()["kafka"] == {"ok": False, "detail": "Kafka did not answer"}
    assert ingest.status_code == 503 and ingest.json()["detail"].startswith("Kafka did not answer in time: ")
    for answer in (health, ingest):
        assert "127.0.0.1" not in answer.text and "Error" not in answer.text


SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/", 200), ("GET", "/docs", 200), ("GET", "/redoc", 200), ("GET", "/openapi.json", 200),
    ("GET", "/search", 200), ("GET", "/livez", 200), ("GET", "/static/app.js", 200),
    ("GET", "/no/such/path", 404), ("GET", "/search?size=0", 422), ("POST", "/articles", 401),
])
def test_every_answer_carries_the_security_headers_and_a_policy(api_url, method, path, status):  # noqa: ANN001
    answer = httpx.request(method, f"{api_url}{path}", json={"body": "x"} if method == "POST" else None)
    assert answer.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value, (path, name)
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy or "default-src 'none'" in policy


def test_the_docs_run_only_their_own_inline_script(api_url):  # noqa: ANN001
    for path in ("/docs", "/redoc"):
        page = httpx.get(f"{api_url}{path}")
        policy = page.headers["content-security-policy"]
        assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0], path
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    swagger = httpx.get(f"{api_url}/docs")
    assert re.search(r"script-src 'self' 'sha256-[A-Za-z0-9+/=]+'", swagger.headers["content-security-policy"])
    page = httpx.get(f"{api_url}/")
    assert page.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'; ")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example"])
def test_a_foreign_host_header_is_400(api_url, host):  # noqa: ANN001
    answer = httpx.get(f"{api_url}/search", headers={"Host": host})
    assert answer.status_code == 400
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1", "[::1]:8000"])
def test_the_configured_hosts_are_answered(api_url, host):  # noqa: ANN001
    assert httpx.get(f"{api_url}/livez", headers={"Host": host}).status_code == 200


@pytest.fixture(scope="module")
def protected(service) -> str:  # noqa: ANN001
    settings = with_keys(service.settings, read=READ_KEY).model_copy(update={"api_protect_operations": True})
    with serve(settings) as url:
        yield url


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
def test_protected_operations_need_a_key(protected, path):  # noqa: ANN001
    refused = httpx.get(f"{protected}{path}", timeout=30)
    assert refused.status_code == 401 and "API key" in refused.json()["detail"]
    assert httpx.get(f"{protected}{path}", headers={"X-API-Key": "wrong"}, timeout=30).status_code == 401
    for key in (READ_KEY, WRITE_KEY):
        assert httpx.get(f"{protected}{path}", headers={"X-API-Key": key}, timeout=30).status_code == 200, key
        assert httpx.get(f"{protected}{path}", params={"key": key}, timeout=30).status_code == 200, key


def test_liveness_and_the_page_stay_open_when_operations_are_protected(protected):  # noqa: ANN001
    assert httpx.get(f"{protected}/livez").json() == {"status": "alive"}
    assert httpx.get(f"{protected}/").status_code == 200


def test_protected_docs_opened_with_a_key_fetch_the_schema_with_it(protected):  # noqa: ANN001
    page = httpx.get(f"{protected}/docs", params={"key": READ_KEY}).text
    assert f"url: '/openapi.json?key={READ_KEY}'" in page
    assert httpx.get(f"{protected}/openapi.json", params={"key": READ_KEY}).status_code == 200


def test_protected_operations_without_any_key_configured_are_refused(service):  # noqa: ANN001
    settings = with_keys(service.settings, write=None).model_copy(update={"api_protect_operations": True})
    with serve(settings) as url:
        refused = httpx.get(f"{url}/metrics")
        assert refused.status_code == 403 and "NEWSSTREAM_API_READ_KEY" in refused.json()["detail"]
        assert httpx.get(f"{url}/livez").status_code == 200


def test_operations_are_open_by_default(api_url):  # noqa: ANN001
    for path in ("/healthz", "/metrics", "/docs", "/openapi.json", "/livez"):
        assert httpx.get(f"{api_url}{path}", timeout=30).status_code == 200, path


@pytest.mark.parametrize("parameter", ["person", "entity", "location", "organization", "source", "agency", "q"])
@pytest.mark.parametrize("length", [1001, 32767])
def test_an_overlong_search_filter_is_422_naming_it(client, parameter, length):  # noqa: ANN001
    refused = client.get("/search", params={parameter: "x" * length})
    assert refused.status_code == 422, refused.text[:300]
    assert f"query parameter {parameter}" in refused.json()["detail"]


def test_filters_of_a_fair_length_are_searched(client):  # noqa: ANN001
    answered = client.get("/search", params={"person": "x" * 200, "source": "y" * 200, "lang": "en"})
    assert answered.status_code == 200, answered.text
