"""Rules through the API, alerts as the worker matches them: recent ones and the live stream."""
from __future__ import annotations

import httpx
import pytest

from tests.newsstream.api.conftest import WRITE_KEY, EventStream, serve, wait_for, with_keys

MATCHING = {"title": "Quarantine lifted at Antwerp grain terminal",
            "body": "Inspectors lifted the quarantine on the Antwerp grain terminal after tests came back clean."}


def rule_names(client) -> list[str]:  # noqa: ANN001
    return [rule["name"] for rule in client.get("/alerts/rules").json()]


def test_a_rule_is_added_listed_and_removed(client):  # noqa: ANN001
    added = client.post("/alerts/rules", json={"name": "grain", "query": "grain AND (terminal OR port)", "lang": "en"})
    assert added.status_code == 201
    assert added.json()["name"] == "grain" and added.json()["lang"] == "en"
    assert "grain" in rule_names(client)
    assert client.delete("/alerts/rules/grain").status_code == 204
    assert "grain" not in rule_names(client)
    gone = client.delete("/alerts/rules/grain")
    assert gone.status_code == 404 and "no rule is named 'grain'" in gone.json()["detail"]


def test_an_unparsable_query_is_400_saying_where(client):  # noqa: ANN001
    refused = client.post("/alerts/rules", json={"name": "broken", "query": "(sanctions AND"})
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert detail.startswith("invalid query:") and "(" in detail
    assert "broken" not in rule_names(client)


@pytest.mark.parametrize(("rule", "where"), [
    ({"name": "a/b", "query": "x"}, "body.name: String should match pattern"),
    ({"name": "ok", "query": ""}, "body.query: String should have at least 1 character"),
    ({"name": "ok", "query": "x", "lang": "French"}, "body.lang"),
    ({"name": "ok", "query": "x", "webhook": "ftp://example.org"}, "webhook must be an http:// or https:// URL"),
    ({"name": "ok", "query": "x", "colour": "red"}, "body.colour: Extra inputs are not permitted"),
])
def test_an_invalid_rule_is_422_pointing_at_the_field(client, rule, where):  # noqa: ANN001
    refused = client.post("/alerts/rules", json=rule)
    assert refused.status_code == 422
    assert where in refused.json()["detail"]


@pytest.mark.parametrize(("rule", "where"), [
    ({"name": "big", "query": "x", "entity": "E" * 100_000}, "body.entity: String should have at most 200"),
    ({"name": "big", "query": "x", "source": "S" * 1_000_000}, "body.source: String should have at most 200"),
    ({"name": "big", "query": "x", "webhook": "https://hooks.example.org/" + "w" * 33_000}, "body.webhook"),
    ({"name": "..", "query": "x"}, "body.name: Value error, a name made of dots"),
    ({"name": "u", "query": "x", "webhook": "https://user:secret@hooks.example.org/a"}, "must not carry a user"),
])
def test_a_rule_over_any_limit_is_refused_and_never_live(client, rule, where):  # noqa: ANN001
    refused = client.post("/alerts/rules", json=rule)
    assert refused.status_code == 422 and where in refused.json()["detail"]
    assert "secret" not in refused.text
    assert rule["name"] not in rule_names(client)


@pytest.mark.parametrize("webhook", ["http://127.0.0.1:9200/", "http://localhost:9092", "http://[::1]:9200/",
                                     "http://0x7f000001:9200/", "http://0/", "http://169.254.169.254/latest/meta-data/"])
def test_a_webhook_to_an_internal_address_is_refused_when_saved(service, webhook):  # noqa: ANN001
    # The test lane allow-lists loopback for its receivers; a deployment's default allows nothing internal.
    with serve(with_keys(service.settings).model_copy(update={"outbound_allow": ""})) as url, \
            httpx.Client(base_url=url, headers={"X-API-Key": WRITE_KEY}) as client:
        refused = client.post("/alerts/rules", json={"name": "inside", "query": "x", "webhook": webhook})
        assert refused.status_code == 422 and refused.json()["detail"].startswith("webhook:")
        assert "inside" not in rule_names(client)


def test_a_removal_of_no_rule_publishes_nothing(client, service):  # noqa: ANN001
    from clients.kafka import read_topic

    before = sum(1 for _ in read_topic(service.settings.kafka, service.settings.topic_rules))
    assert client.delete("/alerts/rules/never-there").status_code == 404
    assert sum(1 for _ in read_topic(service.settings.kafka, service.settings.topic_rules)) == before


def test_recent_alerts_are_empty_before_any_worker_matched(client):  # noqa: ANN001
    assert client.get("/alerts").json() == [] and client.get("/alerts/deliveries?failed=true").json() == []


def test_a_new_rule_alerts_live_and_the_alert_is_then_among_the_recent(api_url, client, worker):  # noqa: ANN001
    stream = EventStream(f"{api_url}/alerts/stream", params={"rule": "quarantine"})
    try:
        assert stream.status == 200
        assert stream.next("ready") is not None  # listening: what is matched from now on is sent
        assert client.post("/alerts/rules", json={"name": "quarantine", "query": "quarantine"}).status_code == 201
        assert client.post("/alerts/rules", json={"name": "unrelated", "query": "antwerp"}).status_code == 201

        def alerted() -> dict | None:
            # The worker applies a new rule within moments; an article it processed before that
            # raised no alert, and sending it again (same id) lets the worker match it again.
            assert client.post("/articles", json=MATCHING).status_code == 202
            return stream.next("alert", timeout_s=15)

        alert = wait_for(alerted, timeout_s=120, every_s=0)
    finally:
        stream.close()
    assert alert is not None, "no alert arrived on the stream"
    assert alert["rule"] == "quarantine" and alert["title"] == MATCHING["title"]
    assert "<mark>quarantine</mark>" in alert["snippet"]
    recent = client.get("/alerts", params={"rule": "quarantine"}).json()
    assert [a["id"] for a in recent] == [alert["id"]]
    assert wait_for(lambda: {"quarantine", "unrelated"} <= {a["rule"] for a in client.get("/alerts").json()})


def test_the_stream_takes_a_read_key_as_a_parameter(service):  # noqa: ANN001
    with serve(with_keys(service.settings, read="reader")) as url:
        assert httpx.get(f"{url}/alerts/stream").status_code == 401
        for key in ("reader", WRITE_KEY):
            stream = EventStream(f"{url}/alerts/stream", params={"key": key})
            try:
                assert stream.status == 200 and stream.next("ready") is not None
            finally:
                stream.close()


def test_an_unreachable_kafka_is_an_unavailable_event_saying_so(service):  # noqa: ANN001
    with serve(with_keys(service.settings).model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"})) as url:
        stream = EventStream(f"{url}/alerts/stream")
        try:
            unavailable = stream.next("unavailable")
        finally:
            stream.close()
    assert unavailable is not None and "Kafka did not answer" in unavailable["detail"]
    assert "127.0.0.1:1" not in unavailable["detail"]  # addresses stay in the log


def test_suggestions_check_the_query_and_answer_per_language(client):  # noqa: ANN001
    assert client.get("/alerts/suggestions", params={"q": "(sanctions AND"}).status_code == 400
    answered = client.get("/alerts/suggestions", params={"q": "zzzunmatched"})
    assert answered.status_code == 200 and answered.json() == {"by_language": {}, "clauses": {}, "covered": [], "stories": 0}
