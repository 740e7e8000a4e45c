"""Pure ASGI middleware that acts before the application reads anything of a request:

- `SecurityHeaders`: nosniff, no referrer and a Content-Security-Policy on every response (routes
  that set their own policy, the page and the docs, keep it), and a JSON 500 instead of a bare one;
- `TrustedHosts`: the Host header must be one of NEWSSTREAM_API_ALLOWED_HOSTS (DNS rebinding);
- `OperationsGuard`: with NEWSSTREAM_API_PROTECT_OPERATIONS, /healthz, /metrics and the docs
  need a key (header, or the `key` parameter for a browser); /livez stays open;
- `StreamCap`: at most NEWSSTREAM_API_MAX_STREAM_CLIENTS live alert streams at once;
- `WriteGuard`: a write (any method but GET, HEAD, OPTIONS) needs the write key before a byte of
  its body is read, and every body is capped at `api_request_limit` while it streams in.
"""
from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsstream.api.auth import API_KEY_HEADER, check_operations_key, check_write_key
from newsstream.settings import Settings

log = logging.getLogger("newsstream.api.guards")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
STREAM_PATH = "/alerts/stream"
OPERATIONS_PATHS = frozenset({"/healthz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
# JSON answers load nothing, frame nothing and run nothing.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
_KEY_HEADER = API_KEY_HEADER.lower().encode("latin-1")


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def query_parameter(scope: Scope, name: str) -> str | None:
    for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
        if key == name:
            return value
    return None


async def refuse(scope: Scope, receive: Receive, send: Send, status_code: int, detail: str,
                 headers: dict[str, str] | None = None, close: bool = False) -> None:
    """Answers `{"detail": ...}`. `close`: the body was not read, so the connection cannot be reused."""
    headers = dict(headers or {})
    if close:
        headers["Connection"] = "close"
    await JSONResponse({"detail": detail}, status_code, headers=headers)(scope, receive, send)


async def refuse_http(scope: Scope, receive: Receive, send: Send, error: HTTPException, close: bool = False) -> None:
    await refuse(scope, receive, send, error.status_code, error.detail, dict(error.headers or {}), close)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def add_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", API_POLICY.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, add_headers)
        except Exception:
            # Logged by uvicorn (the log handlers redact); the client learns nothing internal.
            if not started:
                await refuse(scope, receive, add_headers, status.HTTP_500_INTERNAL_SERVER_ERROR,
                             "internal error: the request failed on the server; the server log has the details")
            raise


def TrustedHosts(app: ASGIApp, hosts: list[str]) -> ASGIApp:  # noqa: N802 - a middleware factory
    """Starlette's TrustedHostMiddleware; IPv6 literals ("::1") are matched as the Host header
    writes them ("[::1]:8000")."""
    patterns = [f"[{host}]" if ":" in host and not host.startswith("[") else host for host in hosts]
    return TrustedHostMiddleware(app, allowed_hosts=patterns or ["localhost"], www_redirect=False)


class OperationsGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and self.settings.api_protect_operations
                and scope["path"] in OPERATIONS_PATHS):
            given = header(scope, _KEY_HEADER) or query_parameter(scope, "key")
            try:
                check_operations_key(self.settings, given)
            except HTTPException as error:
                await refuse_http(scope, receive, send, error)
                return
        await self.app(scope, receive, send)


class StreamCap:
    """Counts the live alert streams open now (requests in flight on the stream's path); past the
    cap a new one is a 503 saying so, before any key check or Kafka work."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.open = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != STREAM_PATH:
            await self.app(scope, receive, send)
            return
        if self.open >= self.limit:
            await refuse(scope, receive, send, status.HTTP_503_SERVICE_UNAVAILABLE,
                         f"too many live alert streams: this server serves at most {self.limit} at once "
                         "(NEWSSTREAM_API_MAX_STREAM_CLIENTS); try again later", headers={"Retry-After": "10"})
            return
        self.open += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open -= 1


class RequestTooLarge(HTTPException):
    """Raised from `receive` once a body streams past the limit: FastAPI lets HTTPExceptions of
    the body read through to the handlers, which answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE,
                         f"the request body is over the limit of {limit} bytes (NEWSSTREAM_API_MAX_REQUEST_BYTES)",
                         headers={"Connection": "close"})


class WriteGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.limit = settings.api_request_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in SAFE_METHODS:
            try:
                check_write_key(self.settings, header(scope, _KEY_HEADER))
            except HTTPException as error:
                await refuse_http(scope, receive, send, error, close=True)
                return
        declared = header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limit:
            error = RequestTooLarge(self.limit)
            await refuse_http(scope, receive, send, error, close=True)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise RequestTooLarge(self.limit)
            return message

        async def observe(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, observe)
        except RequestTooLarge as error:  # read by something that did not turn it into a response
            if started:
                raise
            await refuse_http(scope, receive, send, error, close=True)
