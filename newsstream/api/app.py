"""`create_api(settings)`: the FastAPI application, its routes, the page at `/` and offline docs."""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from clients import undecodable
from newsstream.api import (
    routes_alerts, routes_articles, routes_entities, routes_health, routes_search, routes_stories,
)
from newsstream.api.context import ApiContext
from newsstream.api.errors import install_error_handlers
from newsstream.api.guards import OperationsGuard, SecurityHeaders, StreamCap, TrustedHosts, WriteGuard
from newsstream.api.metrics import MetricsMiddleware
from newsstream.settings import Settings, get_settings

STATIC = Path(__file__).parent / "static"
# The page inserts snippets as HTML: should a check ever let markup through, nothing loaded
# from elsewhere, no inline script and no plugin may run.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
# Swagger UI and ReDoc as FastAPI writes their pages: an inline script each (allowed by its hash,
# computed per page), inline styles (ReDoc injects its own) and ReDoc's blob: worker.
DOCS_POLICY = ("default-src 'self'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
DOCS_ASSETS = "/static-offline-docs"  # where fastapi_offline serves Swagger UI and ReDoc
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def _under_docs_policy(page: HTMLResponse) -> HTMLResponse:
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
                      for script in _INLINE_SCRIPT.findall(bytes(page.body)))
    page.headers["Content-Security-Policy"] = DOCS_POLICY.format(scripts=hashes)
    return page


def create_api(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    undecodable.install()  # the alert stream's consumer dead-ends undecodable batches, never crashes
    context = ApiContext(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await context.alerts.close()
        context.close()

    # FastAPIOffline: Swagger UI and ReDoc served from the package, no CDN; the pages are ours
    # (below), for their policy and to hand a key given in the address on to /openapi.json.
    app = FastAPIOffline(
        docs_url=None,
        redoc_url=None,
        title="newsstream",
        summary="Search enriched news articles, ingest new ones, and follow keyword alerts.",
        description="Writes (`POST /articles`, rule changes) need the server's write key in the `X-API-Key` "
                    "header; reads need a key only when the server has a read key.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.context = context
    # Outermost last: headers on every answer, then the Host check, metrics, and the guards that
    # refuse before a route runs or a body is read.
    app.add_middleware(WriteGuard, settings=settings)
    app.add_middleware(StreamCap, limit=settings.api_max_stream_clients)
    app.add_middleware(OperationsGuard, settings=settings)
    app.add_middleware(MetricsMiddleware, metrics=context.metrics)
    app.add_middleware(TrustedHosts, hosts=settings.api_hosts)
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app, context)
    for module in (routes_search, routes_stories, routes_articles, routes_entities, routes_alerts, routes_health):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": PAGE_POLICY})

    def openapi_url(request: Request) -> str:
        # A browser cannot send the key header: when operations are protected, the docs page opened
        # with ?key= (already checked by OperationsGuard) fetches the schema with it too.
        url = f"{request.scope.get('root_path', '')}{app.openapi_url}"
        key = request.query_params.get("key")
        return f"{url}?key={quote(key, safe='')}" if settings.api_protect_operations and key else url

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _under_docs_policy(get_swagger_ui_html(
            openapi_url=openapi_url(request), title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png", swagger_ui_parameters=app.swagger_ui_parameters))

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _under_docs_policy(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _under_docs_policy(get_redoc_html(
            openapi_url=openapi_url(request), title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js", with_google_fonts=False,
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png"))

    return app
