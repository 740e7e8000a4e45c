"""Every failure answers with `{"detail": "<a sentence saying what is wrong>"}`: bad input is a
4xx naming the parameter, an unreachable Kafka or Elasticsearch a 503, never a bare 500."""
from __future__ import annotations

import logging

import elasticsearch
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kafka.errors import KafkaError, KafkaTimeoutError

from clients.redact import redact_text, redact_url
from newsstream.api.context import ApiContext

log = logging.getLogger("newsstream.api.errors")


def _where(location: tuple[str | int, ...]) -> str:
    # ("query", "size") → "query parameter size"; ("query", "person", 0) → "query parameter person[0]";
    # ("body", 0, "body") → "body[0].body"
    def path(parts: tuple[str | int, ...]) -> str:
        return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)

    if len(location) >= 2 and location[0] in ("query", "path", "header"):
        return f"{location[0]} parameter {location[1]}{path(location[2:])}"
    return f"{location[0]}{path(location[1:])}"


def describe_validation_errors(error: RequestValidationError) -> JSONResponse:
    problems = [{"where": _where(tuple(e["loc"])), "message": e["msg"]} for e in error.errors()]
    detail = "; ".join(f"{p['where']}: {p['message']}" for p in problems)
    return JSONResponse({"detail": detail, "errors": problems}, status.HTTP_422_UNPROCESSABLE_CONTENT)


def install_error_handlers(app: FastAPI, context: ApiContext) -> None:
    """What went wrong, in a sentence; never an address (a URL may carry credentials) nor the
    client library's message: the full detail, redacted, goes to the log."""
    settings = context.settings

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        return describe_validation_errors(error)

    @app.exception_handler(elasticsearch.TransportError)  # refused connections and timeouts
    async def elasticsearch_unreachable(request: Request, error: elasticsearch.TransportError) -> JSONResponse:
        log.warning("%s %s: Elasticsearch at %s is unreachable: %s", request.method, request.url.path,
                    redact_url(settings.elasticsearch_url), redact_text(f"{type(error).__name__}: {error}"))
        timed_out = isinstance(error, elasticsearch.ConnectionTimeout)
        return JSONResponse({"detail": "Elasticsearch did not answer in time" if timed_out
                             else "Elasticsearch is unreachable"}, status.HTTP_503_SERVICE_UNAVAILABLE)

    @app.exception_handler(elasticsearch.ApiError)
    async def elasticsearch_refused(request: Request, error: elasticsearch.ApiError) -> JSONResponse:
        if error.message == "index_not_found_exception":
            return JSONResponse({"detail": f"Elasticsearch has no index {error.body['error'].get('index')!r} yet: "
                                           "it is created when a worker starts"}, status.HTTP_503_SERVICE_UNAVAILABLE)
        log.warning("%s %s: Elasticsearch refused the request (%s): %s", request.method, request.url.path,
                    error.meta.status, redact_text(str(error)))
        return JSONResponse({"detail": f"Elasticsearch refused the request ({error.meta.status})"},
                            status.HTTP_502_BAD_GATEWAY)

    @app.exception_handler(KafkaError)
    async def kafka_unreachable(request: Request, error: KafkaError) -> JSONResponse:
        log.warning("%s %s: Kafka at %s did not accept the request: %s", request.method, request.url.path,
                    redact_text(settings.kafka_bootstrap_servers), redact_text(f"{type(error).__name__}: {error}"))
        timed_out = isinstance(error, KafkaTimeoutError)
        what = "Kafka did not answer in time" if timed_out else "Kafka did not accept the request"
        return JSONResponse({"detail": f"{what}: the articles may not have been accepted; sending them again is "
                                       "safe (they keep their ids)"}, status.HTTP_503_SERVICE_UNAVAILABLE)
