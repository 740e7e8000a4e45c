"""`create_api(settings)`: the FastAPI application, its routes, the page at `/` and offline docs."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from clients import undecodable
from newsstream.api import routes_alerts, routes_articles, routes_health, routes_search
from newsstream.api.context import ApiContext
from newsstream.api.errors import install_error_handlers
from newsstream.api.metrics import MetricsMiddleware
from newsstream.settings import Settings, get_settings

STATIC = Path(__file__).parent / "static"
# The page inserts snippets as HTML: should a check ever let markup through, nothing loaded
# from elsewhere, no inline script and no plugin may run.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def create_api(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    undecodable.install()  # the alert stream's consumer dead-ends undecodable batches, never crashes
    context = ApiContext(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        context.close()

    # FastAPIOffline: /docs and /redoc with Swagger UI and ReDoc served from the package, no CDN.
    app = FastAPIOffline(
        title="newsstream",
        summary="Search enriched news articles, ingest new ones, and follow keyword alerts.",
        description="Writes (`POST /articles`, rule changes) need the server's write key in the `X-API-Key` "
                    "header; reads need a key only when the server has a read key.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.context = context
    app.add_middleware(MetricsMiddleware, metrics=context.metrics)
    install_error_handlers(app, context)
    for module in (routes_search, routes_articles, routes_alerts, routes_health):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": PAGE_POLICY})

    return app
