"""Prometheus metrics of one API instance (its own registry, so several apps never collide)."""
from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("newsstream_api_requests", "HTTP requests answered, by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("newsstream_api_request_duration_seconds",
                                 "Time to answer an HTTP request (event streams left out)",
                                 ["method", "route"], registry=self.registry)
        self.searches = Counter("newsstream_api_searches", "Searches answered", registry=self.registry)
        self.ingested = Counter("newsstream_api_articles_ingested", "Articles accepted into the raw topic",
                                registry=self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts every request under its route template (never the raw path: ids would make one
    series per article) and times those that are not event streams."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        response = {"status": 500, "stream": False}

        async def observe_start(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                response["stream"] = content_type.startswith(b"text/event-stream")
            await send(message)

        try:
            await self.app(scope, receive, observe_start)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], label, str(response["status"])).inc()
            if not response["stream"]:
                self.metrics.latency.labels(scope["method"], label).observe(time.perf_counter() - started)
