from ingest.feeds.fetch import FeedClient, HostRateLimiter, Validators
from newsstream.settings import Settings
from tests.ingest.feeds.feedserver import FeedServer, Route, closed_port_url


def test_requests_carry_the_user_agent_and_validators_come_back(feed_server: FeedServer, quick_settings: Settings) -> None:
    feed_server.routes["/feed"] = Route(b"<rss/>", etag='"v1"', last_modified="Tue, 05 Mar 2024 08:30:00 GMT")
    with FeedClient(quick_settings.feeds) as client:
        result = client.get(feed_server.url("/feed"))
    assert (result.ok, result.status, result.content, result.attempts) == (True, 200, b"<rss/>", 1)
    assert result.validators == Validators(etag='"v1"', last_modified="Tue, 05 Mar 2024 08:30:00 GMT")
    assert feed_server.requests[0].headers["user-agent"] == "newsstream/0.1 (+https://example.org/newsstream)"
    assert "application/rss+xml" in feed_server.requests[0].headers["accept"]


def test_a_conditional_get_of_an_unchanged_feed_costs_a_304_and_keeps_the_validators(
        feed_server: FeedServer, quick_settings: Settings) -> None:
    feed_server.routes["/etag"] = Route(b"<rss/>", etag='"v1"')
    feed_server.routes["/dated"] = Route(b"<rss/>", last_modified="Tue, 05 Mar 2024 08:30:00 GMT")
    with FeedClient(quick_settings.feeds) as client:
        by_etag = client.get(feed_server.url("/etag"), validators=Validators(etag='"v1"'))
        by_date = client.get(feed_server.url("/dated"), validators=Validators(last_modified="Tue, 05 Mar 2024 08:30:00 GMT"))
        changed = client.get(feed_server.url("/etag"), validators=Validators(etag='"v0"'))
    assert (by_etag.not_modified, by_etag.ok, by_etag.content, by_etag.validators.etag) == (True, True, b"", '"v1"')
    assert by_date.not_modified and by_date.validators.last_modified == "Tue, 05 Mar 2024 08:30:00 GMT"
    assert (changed.status, changed.content) == (200, b"<rss/>")
    assert feed_server.requests_for("/etag")[0].headers["if-none-match"] == '"v1"'
    assert feed_server.requests_for("/dated")[0].headers["if-modified-since"] == "Tue, 05 Mar 2024 08:30:00 GMT"


def test_server_errors_are_retried_with_doubling_backoff(feed_server: FeedServer) -> None:
    feed_server.routes["/flaky"] = Route(b"<rss/>", failures_first=2)
    waits: list[float] = []
    settings = Settings(feeds_host_interval_s=0, feeds_backoff_s=0.5, feeds_retries=2, outbound_allow="127.0.0.1")
    with FeedClient(settings.feeds, sleep=waits.append) as client:
        result = client.get(feed_server.url("/flaky"))
    assert (result.ok, result.status, result.attempts) == (True, 200, 3)
    assert waits == [0.5, 1.0]


def test_a_source_that_keeps_failing_is_a_value_not_an_exception(feed_server: FeedServer, quick_settings: Settings) -> None:
    feed_server.routes["/down"] = Route(status=500, body=b"oops")
    with FeedClient(quick_settings.feeds) as client:
        down = client.get(feed_server.url("/down"))
        refused = client.get(closed_port_url())
        missing = client.get(feed_server.url("/missing"))
    assert (down.ok, down.status, down.error, down.attempts) == (False, 500, "HTTP 500 Internal Server Error", 3)
    assert (refused.ok, refused.status, refused.attempts) == (False, None, 3)
    assert refused.error.startswith("cannot fetch:")
    # A 404 will not pass on a second try: not retried.
    assert (missing.status, missing.attempts, missing.error) == (404, 1, "HTTP 404 Not Found")


def test_responses_above_the_size_cap_are_refused(feed_server: FeedServer) -> None:
    feed_server.routes["/huge"] = Route(b"x" * 2000)
    with FeedClient(Settings(feeds_host_interval_s=0, feeds_max_response_bytes=1000, outbound_allow="127.0.0.1").feeds) as client:
        result = client.get(feed_server.url("/huge"))
    assert not result.ok and "larger than 1000 bytes" in result.error and result.content == b""


def test_the_rate_limiter_spaces_requests_to_one_host_only() -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = HostRateLimiter(2.0, clock=lambda: now[0], sleep=sleep)
    limiter.wait("a.example")
    limiter.wait("b.example")  # another host: no wait
    now[0] += 0.5
    limiter.wait("a.example")  # 0.5 s after the first: waits the remaining 1.5 s
    limiter.wait("a.example")  # right after: a full interval
    now[0] += 10
    limiter.wait("a.example")  # long after: no wait
    assert waits == [1.5, 2.0]


def test_the_client_applies_the_rate_limit_per_request(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Route(b"<rss/>")
    hosts: list[str] = []

    class RecordingLimiter(HostRateLimiter):
        def wait(self, host: str) -> None:
            hosts.append(host)

    with FeedClient(Settings(outbound_allow="127.0.0.1").feeds, limiter=RecordingLimiter(0)) as client:
        client.get(feed_server.url("/feed"))
        client.get(feed_server.url("/feed"))
    assert hosts == ["127.0.0.1", "127.0.0.1"]
