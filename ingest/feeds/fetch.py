"""A polite HTTP client for feeds and article pages: a clear User-Agent, conditional GET, at most one
request per `feeds_host_interval_s` to a host, timeouts, a size cap, and retries with exponential
backoff on 5xx, 429, timeouts and refused connections. Every outcome, failures included, is a
`FetchResult`: a failing source is a value to report, never an exception that stops the others."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from types import TracebackType
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field

from clients.outbound import OutboundRefused, guarded_client, read_capped_sync
from ingest.feeds.config import FeedsConfig

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
# A server's Retry-After is honoured up to this long; beyond it the source just fails this pass.
MAX_RETRY_AFTER_S = 120.0


class Validators(BaseModel):
    """What a server said identifies its current version of a URL, sent back to ask "changed since?"."""

    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


class FetchResult(BaseModel):
    url: str
    final_url: str | None = None  # after redirects
    status: int | None = None  # None: no HTTP answer at all (timeout, connection refused, …)
    content: bytes = b""
    content_type: str | None = None
    # The response's validators; on a 304, the ones that were sent (they still hold).
    validators: Validators = Field(default_factory=Validators)
    attempts: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class HostRateLimiter:
    """At least `interval_s` between the starts of two requests to the same host."""

    def __init__(self, interval_s: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval_s = interval_s
        self._clock, self._sleep = clock, sleep
        self._next_allowed: dict[str, float] = {}

    def wait(self, host: str) -> None:
        now = self._clock()
        allowed = self._next_allowed.get(host, now)
        if allowed > now:
            self._sleep(allowed - now)
            now = allowed
        self._next_allowed[host] = now + self.interval_s


class FeedClient:
    """One per poller: it keeps the connection pool and the per-host request times."""

    def __init__(self, config: FeedsConfig, *, limiter: HostRateLimiter | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        # Every request, redirect hops included, through the outbound-request guard: a feed or an
        # entry's link cannot make the poller fetch an internal address.
        policy = dataclasses.replace(config.outbound, max_response_bytes=config.max_response_bytes)
        self._http = guarded_client(policy, headers={"User-Agent": config.user_agent}, timeout=config.timeout_s)
        self._limiter = limiter or HostRateLimiter(config.host_interval_s)
        self._sleep = sleep
        self._retries = config.retries
        self._backoff_s = config.backoff_s
        self._max_bytes = config.max_response_bytes

    def __enter__(self) -> FeedClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(self, url: str, *, validators: Validators | None = None, accept: str = FEED_ACCEPT) -> FetchResult:
        """GET `url` (conditionally when `validators` are given), retrying what may pass on a second try."""
        headers = {"Accept": accept, **(validators or Validators()).request_headers()}
        host = urlsplit(url).hostname or ""
        attempt = 0
        while True:
            attempt += 1
            self._limiter.wait(host)
            result, retry_after = self._attempt(url, headers, validators or Validators())
            result.attempts = attempt
            if retry_after is None or attempt > self._retries:
                return result
            self._sleep(max(retry_after, self._backoff_s * 2 ** (attempt - 1)))

    def _attempt(self, url: str, headers: dict[str, str], sent: Validators) -> tuple[FetchResult, float | None]:
        """One request: its result, and how long at least to wait before a retry (None: do not retry)."""
        try:
            with self._http.stream("GET", url, headers=headers) as response:
                result = FetchResult(url=url, final_url=str(response.url), status=response.status_code,
                                     content_type=response.headers.get("content-type"))
                if response.status_code == 304:
                    result.validators = sent
                    return result, None
                if response.status_code >= 400:
                    result.error = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
                    retryable = response.status_code >= 500 or response.status_code == 429
                    return result, _retry_after(response) if retryable else None
                result.content = read_capped_sync(response, self._max_bytes)
                result.validators = Validators(etag=response.headers.get("etag"),
                                               last_modified=response.headers.get("last-modified"))
                return result, None
        except OutboundRefused as error:  # an internal address, or a response over the size cap
            return FetchResult(url=url, error=str(error)), None
        except httpx.TimeoutException:
            return FetchResult(url=url, error=f"timed out ({self._http.timeout.read:g} s)"), 0.0
        except httpx.TransportError as error:  # refused, reset, DNS, protocol errors
            retryable = not isinstance(error, httpx.UnsupportedProtocol)
            return FetchResult(url=url, error=f"cannot fetch: {error or type(error).__name__}"), 0.0 if retryable else None
        except (httpx.HTTPError, httpx.InvalidURL) as error:  # too many redirects, a malformed URL
            return FetchResult(url=url, error=f"cannot fetch: {error}"), None

def _retry_after(response: httpx.Response) -> float:
    """The server's Retry-After in seconds when it gives one as a number (capped), else 0."""
    value = response.headers.get("retry-after", "").strip()
    return min(float(value), MAX_RETRY_AFTER_S) if value.isdigit() else 0.0
