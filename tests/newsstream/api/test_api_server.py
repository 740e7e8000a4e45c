"""The API's uvicorn server: open streams end on stop, and keys stay out of the access log."""
from __future__ import annotations

import logging

from newsstream.api.server import RedactKeys
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
