"""Swagger UI and ReDoc render in headless Chromium under their Content-Security-Policy, with no
violation reported, and protected docs opened with ?key= load their schema."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.newsstream.api.conftest import serve, with_keys
from tests.newsstream.api.test_browser import CHROMIUM, CHROMIUM_ARGS

READ_KEY = "docs-read-key"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def protected_site(service) -> Iterator[str]:  # noqa: ANN001
    settings = with_keys(service.settings, read=READ_KEY).model_copy(update={"api_protect_operations": True})
    with serve(settings) as url:
        yield url


@pytest.mark.parametrize(("path", "rendered"), [
    ("/docs", ".swagger-ui .opblock-summary-path"),  # an operation listed: the schema was loaded
    ("/redoc", "[data-section-id^='tag/search'], [data-section-id*='search']"),
])
def test_the_docs_render_under_their_policy(browser: Browser, api_url: str, path: str, rendered: str):
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        page.goto(f"{api_url}{path}")
        page.wait_for_selector(rendered, timeout=30_000)
    finally:
        page.close()
    # ReDoc's "powered by" logo comes from its CDN: refusing it is the policy at work (docs stay offline).
    violations = [p for p in problems if "Content Security Policy" in p and "cdn.redoc.ly" not in p]
    assert not violations, violations


def test_protected_docs_opened_with_a_key_render(browser: Browser, protected_site: str):
    page = browser.new_page()
    try:
        page.goto(f"{protected_site}/docs?key={READ_KEY}")
        page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=30_000)
    finally:
        page.close()
