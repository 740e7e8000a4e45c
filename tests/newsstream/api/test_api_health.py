"""GET /healthz: Kafka, Elasticsearch and the worker group's lag on the raw topic."""
from __future__ import annotations

import httpx

from tests.newsstream.api.conftest import serve, wait_for, with_keys

ARTICLES = [{"title": "Harbour reopens", "body": "The harbour of Gdansk reopened on Friday."},
            {"title": "Bridge closed", "body": "The bridge over the Vistula is closed for repairs."}]


def test_without_a_worker_the_lag_counts_what_was_sent_and_health_is_degraded(client, service):  # noqa: ANN001
    before = client.get("/healthz").json()
    assert before["worker"]["lag"] == 0
    assert client.post("/articles", json=ARTICLES).status_code == 202
    health = client.get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "degraded" and body["kafka"]["ok"] and body["elasticsearch"]["ok"]
    assert body["worker"]["group"] == service.settings.worker_app_id
    assert body["worker"]["topic"] == service.settings.topic_raw
    assert body["worker"]["members"] == 0 and body["worker"]["lag"] == 2
    assert sum(body["worker"]["partition_lag"].values()) == 2


def test_a_running_worker_catches_up_and_health_is_ok(client, worker):  # noqa: ANN001
    def caught_up() -> dict | None:
        body = client.get("/healthz").json()
        return body if body["worker"]["members"] and body["worker"]["lag"] == 0 else None

    body = wait_for(caught_up, timeout_s=180)
    assert body is not None, client.get("/healthz").json()
    assert body["status"] == "ok" and body["worker"]["state"] == "Stable"


def test_an_unreachable_kafka_or_elasticsearch_is_503_saying_which(service):  # noqa: ANN001
    for broken, check, detail in (({"kafka_bootstrap_servers": "127.0.0.1:1"}, "kafka", "Kafka did not answer"),
                                  ({"elasticsearch_url": "http://127.0.0.1:1"}, "elasticsearch",
                                   "Elasticsearch is unreachable")):
        with serve(with_keys(service.settings).model_copy(update=broken)) as url:
            health = httpx.get(f"{url}/healthz", timeout=60)
        assert health.status_code == 503
        body = health.json()
        # What happened, not where (an address may carry credentials): that goes to the log.
        assert body["status"] == "down" and body[check] == {"ok": False, "detail": detail}
        other = "elasticsearch" if check == "kafka" else "kafka"
        assert body[other]["ok"]
