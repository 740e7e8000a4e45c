"""Live alert streams share one Kafka consumer per API process, fanned out to each listener
through a bounded queue, and their number is capped."""
from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from clients.kafka import make_producer
from newsstream.api import alert_stream
from newsstream.api.alert_stream import LISTENER_QUEUE, AlertHub
from newsstream.api.app import create_api
from schemas.alerts import Alert
from tests.newsstream.api.conftest import EventStream, serve_app, wait_for, with_keys

CAP = 3


def _alert(number: int, rule: str = "fanout") -> Alert:
    return Alert(id=f"alert-{number}", rule=rule, article_id=f"article-{number}", title=f"Title {number}",
                 language="en", matched_terms=["word"], snippet="a <mark>word</mark>")


def test_streams_share_one_consumer_each_gets_every_alert_and_past_the_cap_is_503(service):  # noqa: ANN001
    app = create_api(with_keys(service.settings).model_copy(update={"api_max_stream_clients": CAP}))
    hub: AlertHub = app.state.context.alerts
    streams: list[EventStream] = []
    with serve_app(app) as url:
        try:
            for _ in range(CAP):
                streams.append(EventStream(f"{url}/alerts/stream"))
                assert streams[-1].status == 200 and streams[-1].next("ready") is not None
            assert hub.consumers_started == 1 and hub.listeners == CAP

            refused = httpx.get(f"{url}/alerts/stream", timeout=10)
            assert refused.status_code == 503
            assert refused.json()["detail"].startswith(f"too many live alert streams: this server serves at most {CAP}")
            assert refused.headers["retry-after"]
            assert httpx.get(f"{url}/livez").status_code == 200  # the rest of the API is unaffected

            with make_producer(service.settings.kafka) as producer:
                producer.send(service.settings.topic_alerts, value=_alert(1).model_dump_json().encode())
                producer.flush()
            for stream in streams:
                assert (stream.next("alert", timeout_s=30) or {}).get("id") == "alert-1"

            streams.pop().close()  # a place frees up once the server sees the stream gone
            assert wait_for(lambda: hub.listeners == CAP - 1, timeout_s=15)
            streams.append(EventStream(f"{url}/alerts/stream"))
            assert streams[-1].status == 200 and streams[-1].next("ready") is not None
            assert hub.consumers_started == 1
        finally:
            for stream in streams:
                stream.close()
    assert not hub.running, "the consumer outlived the server"


def test_a_listener_too_far_behind_is_dropped_and_the_others_keep_up():
    async def scenario() -> tuple[int, bool, int]:
        hub = AlertHub(settings=None, stop=threading.Event())  # type: ignore[arg-type] - no consumer here
        hub._runner = asyncio.get_running_loop().create_task(asyncio.sleep(3600))  # as if following
        slow, quick = hub.follow(), hub.follow()
        assert await slow.__anext__() is None and await quick.__anext__() is None
        received = 0
        for number in range(LISTENER_QUEUE + 10):  # the slow one never reads
            hub._dispatch(_alert(number))
            assert (await quick.__anext__()).id == f"alert-{number}"
            received += 1
        listeners_left = hub.listeners
        slow_items = [alert async for alert in slow]  # what it had queued, then its end
        hub._runner.cancel()
        return received, listeners_left == 1, len(slow_items)

    received, only_quick_left, slow_queued = asyncio.run(scenario())
    assert received == LISTENER_QUEUE + 10 and only_quick_left and slow_queued == LISTENER_QUEUE


def test_follow_alerts_with_the_same_stop_event_shares_the_hub():
    stop = threading.Event()
    other = threading.Event()
    assert alert_stream.hub_for(None, stop) is alert_stream.hub_for(None, stop)  # type: ignore[arg-type]
    assert alert_stream.hub_for(None, other) is not alert_stream.hub_for(None, stop)  # type: ignore[arg-type]


@pytest.mark.parametrize("clients", [25])
def test_many_streams_keep_the_health_check_fast(service, clients):  # noqa: ANN001
    app = create_api(with_keys(service.settings))
    with serve_app(app) as url:
        streams = [EventStream(f"{url}/alerts/stream") for _ in range(clients)]
        try:
            assert all(stream.next("ready") is not None for stream in streams)
            assert app.state.context.alerts.consumers_started == 1
            answered = httpx.get(f"{url}/healthz", timeout=10)
            assert answered.status_code == 200 and answered.elapsed.total_seconds() < 5
        finally:
            for stream in streams:
                stream.close()
