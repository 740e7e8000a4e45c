"""Every failure answers with `{"detail": "<a sentence saying what is wrong>"}`: bad input is a
4xx naming the parameter, an unreachable Kafka or Elasticsearch a 503, never a bare 500."""
from __future__ import annotations

import elasticsearch
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kafka.errors import KafkaError

from newsstream.api.context import ApiContext


def _where(location: tuple[str | int, ...]) -> str:
    # ("query", "size") → "query parameter size"; ("body", 0, "body") → "body[0].body"
    if len(location) == 2 and location[0] in ("query", "path", "header"):
        return f"{location[0]} parameter {location[1]}"
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location[1:])
    return f"{location[0]}{path}"


def describe_validation_errors(error: RequestValidationError) -> JSONResponse:
    problems = [{"where": _where(tuple(e["loc"])), "message": e["msg"]} for e in error.errors()]
    detail = "; ".join(f"{p['where']}: {p['message']}" for p in problems)
    return JSONResponse({"detail": detail, "errors": problems}, status.HTTP_422_UNPROCESSABLE_CONTENT)


def install_error_handlers(app: FastAPI, context: ApiContext) -> None:
    settings = context.settings

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        return describe_validation_errors(error)

    @app.exception_handler(elasticsearch.TransportError)  # refused connections and timeouts
    async def elasticsearch_unreachable(_: Request, error: elasticsearch.TransportError) -> JSONResponse:
        return JSONResponse({"detail": f"Elasticsearch at {settings.elasticsearch_url} is unreachable: "
                                       f"{error.message}"}, status.HTTP_503_SERVICE_UNAVAILABLE)

    @app.exception_handler(elasticsearch.ApiError)
    async def elasticsearch_refused(_: Request, error: elasticsearch.ApiError) -> JSONResponse:
        if error.message == "index_not_found_exception":
            return JSONResponse({"detail": f"Elasticsearch has no index {error.body['error'].get('index')!r} yet: "
                                           "it is created when a worker starts"}, status.HTTP_503_SERVICE_UNAVAILABLE)
        return JSONResponse({"detail": f"Elasticsearch refused the request ({error.meta.status}): {error.message}"},
                            status.HTTP_502_BAD_GATEWAY)

    @app.exception_handler(KafkaError)
    async def kafka_unreachable(_: Request, error: KafkaError) -> JSONResponse:
        return JSONResponse({"detail": f"Kafka at {settings.kafka_bootstrap_servers} did not accept the request: "
                                       f"{type(error).__name__}: {error}"}, status.HTTP_503_SERVICE_UNAVAILABLE)
