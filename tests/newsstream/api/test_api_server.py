"""The API's uvicorn server: open streams end on stop, and keys stay out of the access log."""
from __future__ import annotations

import logging

from clients.redact import RedactingFilter
from newsstream.api.app import create_api
from newsstream.api.server import ApiServer, RedactKeys
from tests.newsstream.api.conftest import EventStream, serve, with_keys


def test_stopping_the_server_ends_open_streams(service):  # noqa: ANN001
    with serve(with_keys(service.settings)) as url:
        stream = EventStream(f"{url}/alerts/stream")
        assert stream.next("ready") is not None
    assert stream.ended.wait(timeout=30), "the stream outlived the server"


def test_a_key_in_an_address_is_not_logged():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/alerts/stream?rule=x&key=s3cret&b=1", "1.1", 200), None)
    assert RedactKeys().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /alerts/stream?rule=x&key=…&b=1 HTTP/1.1" 200'
    assert "s3cret" not in record.getMessage()


def test_the_servers_log_handlers_redact(service):  # noqa: ANN001
    server = ApiServer(create_api(with_keys(service.settings)), host="127.0.0.1", port=0, log_level="warning")
    assert server.config.timeout_keep_alive == service.settings.api_keep_alive_timeout_s
    assert server.config.limit_concurrency == service.settings.api_limit_concurrency
    handlers = [*logging.getLogger("uvicorn").handlers, *logging.getLogger().handlers]
    assert handlers and all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in handlers)
    record = logging.LogRecord("newsstream.api.errors", logging.WARNING, __file__, 1, "unreachable: %s",
                               ("ConnectionError(http://esuser:pw@es:9200/?api_key=k)",), None)
    for handler in handlers:
        for check in handler.filters:
            check.filter(record)
    assert record.getMessage() == "unreachable: ConnectionError(http://es:9200/)"
