"""uvicorn for the API: on the stop signal, open event streams end first, so that a page left
open does not hold the shutdown until the graceful timeout; API keys never reach the access log
and every other log record is redacted (clients.redact).

Connection limits (uvicorn 0.54 has none for a client that sends its request head slowly, the
"slowloris": its keep-alive timer only runs between requests, and any byte received cancels it):
- `HeaderTimeoutH11Protocol` closes a connection whose request line and headers are not complete
  `header_timeout_s` after the connection opened, or after the first byte of a next request on
  a kept-alive one;
- a request head arriving in pieces is at most MAX_HEAD_BYTES (h11 answers 400 past it; h11 only
  measures what it buffers incomplete, so a head that arrives in one read, up to asyncio's 256 KiB,
  is parsed whole): room for the longest query the routes take, which then answer 422 themselves;
- at most NEWSSTREAM_API_LIMIT_CONCURRENCY connections and tasks (past it uvicorn answers 503),
  idle keep-alive connections close after NEWSSTREAM_API_KEEP_ALIVE_TIMEOUT_S.
"""
from __future__ import annotations

import asyncio
import logging
import re
import sys
from types import FrameType
from typing import Any

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.logging import DefaultFormatter
from uvicorn.protocols.http.h11_impl import H11Protocol

from clients.redact import RedactingFilter
from newsstream.api.context import ApiContext

GRACEFUL_SHUTDOWN_S = 5  # requests still running then are cancelled
HEADER_TIMEOUT_S = 10.0  # to send a request line and its headers
MAX_HEAD_BYTES = 64 * 1024  # request line and headers
_KEY_PARAMETER = re.compile(r"([?&]key=)[^&\s]*")


class RedactKeys(logging.Filter):
    """The alert stream takes the read key in its address (EventSource sends no headers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.access logs (client, method, path with query, http version, status).
        if isinstance(record.args, tuple):
            record.args = tuple(_KEY_PARAMETER.sub(r"\1…", arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        return True


_redact_keys = RedactKeys()
_redacting = RedactingFilter()
log = logging.getLogger("newsstream.api.server")


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request head (see the module's docstring)."""

    header_timeout_s = HEADER_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            log.debug("closing a connection from %s: no complete request head in %.0f s",
                      self.client, self.header_timeout_s)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        if self._head_deadline is None and self.conn.their_state is h11.IDLE:
            self._arm_head_deadline()  # the first bytes of a next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_head_deadline()  # the head is complete: the request runs

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)


def redact_api_logs() -> None:
    """RedactingFilter on the handlers the API logs through: uvicorn's (configured by uvicorn.Config)
    and the root logger's, where newsstream.* records go; a stderr handler there if it has none.
    uvicorn's access handler keeps RedactKeys only: its formatter needs the record's arguments."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(DefaultFormatter("%(levelprefix)s %(name)s: %(message)s"))
        root.addHandler(handler)
    for logger in (root, logging.getLogger("uvicorn"), logging.getLogger("uvicorn.error")):
        for handler in logger.handlers:
            if _redacting not in handler.filters:
                handler.addFilter(_redacting)
    logging.getLogger("uvicorn.access").addFilter(_redact_keys)


class ApiServer(uvicorn.Server):
    def __init__(self, app: FastAPI, host: str, port: int, log_level: str = "info",
                 header_timeout_s: float = HEADER_TIMEOUT_S) -> None:
        self.context: ApiContext = app.state.context
        settings = self.context.settings
        protocol = type("ApiH11Protocol", (HeaderTimeoutH11Protocol,), {"header_timeout_s": header_timeout_s})
        super().__init__(uvicorn.Config(
            app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            http=protocol, h11_max_incomplete_event_size=MAX_HEAD_BYTES,
            timeout_keep_alive=settings.api_keep_alive_timeout_s,  # type: ignore[arg-type] - a float works
            limit_concurrency=settings.api_limit_concurrency))
        redact_api_logs()  # after Config, which sets up logging

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.context.stopping.set()
        super().handle_exit(sig, frame)
