"""Keyword alerts on the real stack: rules through the compacted topic, matching in the worker,
alerts once per (rule, story) in the index, the topic and the webhook."""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from ingest.readers import read_articles
from newsstream.settings import PROJECT_ROOT
from clients.kafka import read_topic
from tests.integration.conftest import SHARED, kill, stop, wait_for

SAMPLES = PROJECT_ROOT / "samples" / "articles.jsonl"
SEED = SHARED / "samples" / "seed-wire-dump.txt"
EU_SANCTIONS = "EU ministers agree new sanctions on shadow-fleet shipping firms"
PUTIN_KIM = "Russie : Vladimir Poutine accepte l’invitation de Kim Jong-un à se rendre en Corée du Nord"


class Receiver(ThreadingHTTPServer):
    """A local webhook endpoint that keeps what it was sent."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


def stored_alerts(service, es) -> list[dict]:  # noqa: ANN001
    index = service.settings.index_alerts
    if not es.indices.exists(index=index):
        return []
    es.indices.refresh(index=index)
    return [hit["_source"] for hit in es.search(index=index, size=1000)["hits"]["hits"]]


def alerts_on_topic(service) -> list[dict]:  # noqa: ANN001
    settings = service.settings
    return [orjson.loads(record.value) for record in read_topic(settings.kafka, settings.topic_alerts)]


@pytest.fixture(scope="module")
def receiver():
    server = Receiver()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def running(service, receiver, es_client):  # noqa: ANN001
    added = service.cli("alerts", "add", "sanctions", "--query", "sanctions", "--webhook", receiver.url)
    assert added.returncode == 0, added.stderr.decode()
    state = {"worker": service.start_worker()}
    yield state
    stop(state["worker"])


def test_a_malformed_rule_is_refused_with_where_it_is_wrong(service):
    refused = service.cli("alerts", "add", "broken", "--query", "(sanctions AND")
    assert refused.returncode == 2
    assert "invalid query" in refused.stderr.decode()
    assert "broken" not in [rule["name"] for rule in service.cli_json("alerts", "list")]


def test_sanctions_alerts_the_matching_articles_once_each(service, running, receiver, es_client):  # noqa: ANN001
    expected = {EU_SANCTIONS} | ({PUTIN_KIM} if SEED.is_file() else set())
    sent = sum(service.cli_json("ingest", str(path))["sent"] for path in (SAMPLES, SEED) if path.is_file())
    assert service.wait_for_count(es_client, sent) == sent

    def alerted() -> list[dict]:
        return [a for a in stored_alerts(service, es_client) if a["rule"] == "sanctions"]

    assert wait_for(lambda: expected <= {a["title"] for a in alerted()}), "no alert for the articles about sanctions"
    assert sorted(a["title"] for a in alerted()) == sorted(expected)  # once each, and nothing else
    assert all("<mark>" in a["snippet"] for a in alerted())
    assert wait_for(lambda: len(receiver.received) >= len(expected), timeout_s=30)
    assert sorted(a["title"] for a in receiver.received) == sorted(expected)


def deliveries(service, *options: str) -> list[dict]:  # noqa: ANN001
    listed = service.cli("alerts", "deliveries", "--json", *options)
    assert listed.returncode == 0, listed.stderr.decode()
    return [json.loads(line) for line in listed.stdout.decode().splitlines()]


def test_the_delivery_log_has_each_webhook_delivery_once_with_its_latency(service, running, receiver):  # noqa: ANN001
    sent = wait_for(lambda: [d for d in deliveries(service, "--rule", "sanctions") if d["status"] == "sent"])
    assert sent and len(sent) == len({d["alert_id"] for d in sent}) == len(receiver.received)
    assert all(d["channel"] == "webhook" and d["target"] == receiver.url and d["latency_ms"] > 0 for d in sent)
    assert deliveries(service, "--failed") == []


def test_a_rule_added_while_running_applies_to_the_next_article(service, running, es_client):  # noqa: ANN001
    added = service.cli("alerts", "add", "reindeer", "--query", '"reindeer herders"')
    assert added.returncode == 0, added.stderr.decode()
    time.sleep(1.5)  # rules reach workers within a second
    article = {"title": "Arctic grazing lands shrink", "url": "https://example.net/reindeer",
               "body": "Reindeer herders in northern Norway say the grazing season has shortened again."}
    assert service.cli("ingest", "-", input=orjson.dumps(article)).returncode == 0
    alert = wait_for(lambda: [a for a in stored_alerts(service, es_client) if a["rule"] == "reindeer"], timeout_s=60)
    assert [a["title"] for a in alert] == ["Arctic grazing lands shrink"]


def test_a_throttled_rule_sends_its_hours_limit_and_holds_the_rest_through_the_worker(  # noqa: ANN001
        service, running, receiver, es_client):
    added = service.cli("alerts", "add", "walrus", "--query", "walrus", "--throttle", "1", "--webhook", receiver.url)
    assert added.returncode == 0, added.stderr.decode()
    time.sleep(1.5)  # rules reach workers within a second
    places = ("Svalbard", "the Laptev Sea", "Chukotka")  # three unrelated reports: three stories, three alerts
    articles = [{"title": f"Walrus count near {place}", "url": f"https://example.net/walrus-{n}",
                 "body": f"Researchers counting walrus herds near {place} reported {n + 3} hundred animals "
                         f"{['on drifting ice', 'on a gravel beach', 'during a storm'][n]}."}
                for n, place in enumerate(places)]

    def walrus_log(statuses: list[str]) -> list[dict] | None:
        log = deliveries(service, "--rule", "walrus")
        return log if sorted(d["status"] for d in log) == statuses else None

    # The first match uses the hour's one message; the two after it (sent once it is out) are held.
    assert service.cli("ingest", "-", input=orjson.dumps(articles[0])).returncode == 0
    assert wait_for(lambda: walrus_log(["sent"]), timeout_s=90), deliveries(service, "--rule", "walrus")
    assert service.cli("ingest", "-", input=b"\n".join(map(orjson.dumps, articles[1:]))).returncode == 0
    log = wait_for(lambda: walrus_log(["held", "held", "sent"]), timeout_s=90)
    assert log, [(d["status"], d["alert_id"]) for d in deliveries(service, "--rule", "walrus")]
    messages = [body for body in receiver.received
                if body.get("rule") == "walrus" or body.get("notification", {}).get("rule") == "walrus"]
    assert [message.get("title") for message in messages] == [articles[0]["title"]]


def test_replaying_after_a_worker_restart_never_alerts_twice(service, running, es_client):  # noqa: ANN001
    before = stored_alerts(service, es_client)
    stop(running["worker"])
    running["worker"] = service.start_worker()
    with open(SAMPLES, encoding="utf-8") as stream:
        ids = [article.id for article in read_articles(stream)]
    first = {i: service.cli_json("get", i)["processed_at"] for i in ids}
    assert sorted(service.cli_json("ingest", str(SAMPLES))["ids"]) == sorted(ids)
    # The worker has reprocessed everything once every processed_at has moved.
    assert wait_for(lambda: all(service.cli_json("get", i)["processed_at"] != first[i] for i in ids), timeout_s=120)
    after = stored_alerts(service, es_client)
    assert sorted(a["id"] for a in after) == sorted(a["id"] for a in before)
    on_topic = Counter(a["id"] for a in alerts_on_topic(service))
    assert on_topic and max(on_topic.values()) == 1


def test_tail_and_test_show_what_the_stream_matched(service, running, es_client):  # noqa: ANN001
    tailed = service.cli("alerts", "tail", "--no-follow", "--json", "--rule", "sanctions")
    assert tailed.returncode == 0, tailed.stderr.decode()
    tailed_titles = {json.loads(line)["title"] for line in tailed.stdout.decode().splitlines()}
    matched = {hit["title"] for hit in service.cli_json("alerts", "test", "--query", "sanctions")}
    assert tailed_titles == matched and EU_SANCTIONS in matched


def test_a_worker_killed_between_the_index_and_the_topic_loses_no_alert(service, running, receiver, es_client):  # noqa: ANN001
    title = "Grain traders face new sanctions over Black Sea shipments"
    article = {"title": title, "url": "https://example.net/killed-between",
               "body": "Three grain trading houses accused of shipping stolen wheat from occupied ports were put "
                       "under sanctions on Thursday, freezing their assets and barring their vessels from ports."}

    def stored() -> list[dict]:
        return [a for a in stored_alerts(service, es_client) if a["title"] == title]

    def on_topic() -> list[dict]:
        return [a for a in alerts_on_topic(service) if a["title"] == title]

    stop(running["worker"])
    # This worker publishes alerts to a topic that does not exist (brokers here create none on
    # their own), so it stores the alert and retries the topic until it is killed there.
    stuck = service.start_worker(NEWSSTREAM_TOPIC_ALERTS=f"{service.settings.topic_alerts}-unreachable")
    try:
        assert service.cli("ingest", "-", input=orjson.dumps(article)).returncode == 0
        assert wait_for(lambda: [a for a in stored() if a["pending_owner"]], timeout_s=120), "no pending alert"
    finally:
        kill(stuck)
    assert on_topic() == [] and not [a for a in receiver.received if a.get("title") == title]

    # The batch was not acknowledged: the next worker replays it and, once the pending mark is
    # older than its 30 s lease, publishes the alert.
    started = time.monotonic()
    running["worker"] = service.start_worker()
    assert wait_for(on_topic, timeout_s=180), "the replayed alert never reached the topic"
    recovered_s = time.monotonic() - started
    assert wait_for(lambda: [a for a in receiver.received if a.get("title") == title], timeout_s=30)
    assert wait_for(lambda: [a for a in stored() if not a["pending_owner"]], timeout_s=30)
    (alert,) = stored()
    counts = {"index": len(stored()), "topic": len(on_topic()),
              "delivered": len([a for a in receiver.received if a.get("title") == title]),
              "logged": len([d for d in deliveries(service) if d["alert_id"] == alert["id"] and d["status"] == "sent"])}
    print(f"\n[killed between index and topic] {counts}, published {recovered_s:.1f} s after the restart")
    assert counts == {"index": 1, "topic": 1, "delivered": 1, "logged": 1}
