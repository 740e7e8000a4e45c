"""`newsstream api`: serve the HTTP API and the search page."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from newsstream.settings import get_settings


def run_api(
    host: Annotated[Optional[str], typer.Option(
        help="address to listen on (default: NEWSSTREAM_API_HOST, 127.0.0.1)")] = None,
    port: Annotated[Optional[int], typer.Option(
        min=1, max=65535, help="port (default: NEWSSTREAM_API_PORT, 8000)")] = None,
) -> None:
    """Serve the search API, the analysts' page at / and the API docs at /docs."""
    from newsstream.api.app import create_api
    from newsstream.api.server import ApiServer

    settings = get_settings()
    ApiServer(create_api(settings), host=host or settings.api_host, port=port or settings.api_port).run()
