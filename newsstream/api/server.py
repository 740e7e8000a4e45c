"""uvicorn for the API: on the stop signal, open event streams end first, so that a page left
open does not hold the shutdown until the graceful timeout; API keys never reach the access log."""
from __future__ import annotations

import logging
import re
from types import FrameType

import uvicorn
from fastapi import FastAPI

from newsstream.api.context import ApiContext

GRACEFUL_SHUTDOWN_S = 5  # requests still running then are cancelled
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


class ApiServer(uvicorn.Server):
    def __init__(self, app: FastAPI, host: str, port: int, log_level: str = "info") -> None:
        super().__init__(uvicorn.Config(app, host=host, port=port, log_level=log_level,
                                        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S))
        logging.getLogger("uvicorn.access").addFilter(_redact_keys)  # after Config, which sets up logging
        self.context: ApiContext = app.state.context

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.context.stopping.set()
        super().handle_exit(sig, frame)
