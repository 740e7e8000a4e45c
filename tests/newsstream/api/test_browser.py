"""The analysts' page in headless Chromium (Debian's, driven by Playwright): search, a facet as a
filter, a rule added through the form and its alert arriving in the live panel."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator

import httpx
import orjson
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from newsstream.settings import PROJECT_ROOT
from tests.newsstream.api.conftest import SEED, WRITE_KEY, as_json, seed_articles, serve, wait_for, with_keys

CHROMIUM = "/usr/bin/chromium"  # Debian's package: Playwright downloads no browser here
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The README's picture; refreshed only on request, so a test run leaves the work tree clean.
SCREENSHOT = PROJECT_ROOT / "docs" / "screenshot.png"
UPDATE_SCREENSHOT = os.environ.get("NEWSSTREAM_UPDATE_SCREENSHOT") == "1"
# Steps wait on the worker and Kafka as well as on the page: generous on a loaded machine.
expect.set_options(timeout=30_000)
WATCHED = {"title": "Zeppelin works reopen in Friedrichshafen",
           "body": "The zeppelin hangar in Friedrichshafen reopened to visitors on Saturday, the town said."}


@pytest.fixture(scope="module")
def site(service, worker, es_client) -> Iterator[str]:  # noqa: ANN001
    articles = seed_articles()
    with serve(with_keys(service.settings)) as url:
        accepted = httpx.post(f"{url}/articles", json=as_json(articles), headers={"X-API-Key": WRITE_KEY}, timeout=60)
        assert accepted.status_code == 202, accepted.text
        assert service.wait_for_count(es_client, len(articles)) == len(articles)
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=site)
    opened = context.new_page()
    opened.goto("/")
    yield opened
    context.close()


def test_search_filter_by_a_person_add_a_rule_and_see_its_alert_arrive(page: Page, site: str):
    # A search: the matching article, its snippet with the inflected form marked.
    page.fill("#q", "sanction")
    page.press("#q", "Enter")
    expected_title = "Poutine" if SEED.is_file() else "EU ministers agree new sanctions"
    hit = page.locator(".hit", has=page.locator(".hit-title", has_text=expected_title))
    expect(hit).to_be_visible()
    # The page shows every article before the search's answer arrives: wait for its marked snippets.
    expect(hit.locator(".snippet mark").first).to_be_visible()
    snippets = hit.locator(".snippet").evaluate_all("nodes => nodes.map(node => node.innerHTML)")
    assert any("<mark>sanctions</mark>" in snippet for snippet in snippets), snippets
    expect(page).to_have_url(f"{site}/?q=sanction")

    # A person facet as a filter: only the articles naming that person (by id, shown by name), as
    # many as it counted.
    facet = page.locator("#facet-persons li button").first
    person_id, count = facet.get_attribute("data-value"), int(facet.locator(".count").inner_text())
    person = facet.locator(".value").inner_text()
    facet.click()
    expect(page.locator("#active-filters")).to_contain_text(f"person: {person}")
    # Hits collapse by story: as many as the stories those articles are in.
    summary = page.locator("#summary")
    expect(summary).to_have_text(re.compile(rf"^{count} article{'' if count == 1 else 's'} in \d+ stor(y|ies)$"))
    stories = int(re.search(r"in (\d+) stor", summary.inner_text()).group(1))
    assert 1 <= stories <= count
    expect(page.locator(".hit")).to_have_count(stories)
    for index in range(stories):
        expect(page.locator(".hit").nth(index).locator(f'.chip.person[data-id="{person_id}"]')).to_be_visible()
    expect(page.locator(f'#facet-persons button[data-value="{person_id}"]')).to_have_attribute("aria-pressed", "true")
    # The entity filtered on has its card: its names by language and the entities named beside it.
    expect(page.locator("#entity-card h2")).to_have_text(person)
    expect(page.locator("#entity-card")).to_contain_text(person_id)

    # A rule through the form, with the key typed once and kept for the tab.
    page.fill("#api-key", WRITE_KEY)
    page.dispatch_event("#api-key", "change")
    assert page.evaluate("sessionStorage.getItem('newsstream.apiKey')") == WRITE_KEY
    expect(page.locator("#stream-status")).to_have_attribute("data-state", "live")
    page.fill("#rule-form input[name=name]", "zeppelins")
    page.fill("#rule-form input[name=query]", "zeppelin")
    page.click("#rule-form button[type=submit]")
    expect(page.locator("#rule-message")).to_contain_text("rule zeppelins saved")
    expect(page.locator('#rule-list li[data-rule="zeppelins"]')).to_be_visible()

    # An article the rule matches: its alert appears in the live panel.
    alert = page.locator('#alerts .alert[data-rule="zeppelins"]')

    def alert_shown() -> bool:
        # The worker applies a new rule within moments; an article it processed before that raised
        # no alert, and sending it again (same id) lets the worker match it again.
        httpx.post(f"{site}/articles", json=WATCHED, headers={"X-API-Key": WRITE_KEY}).raise_for_status()
        try:
            alert.wait_for(timeout=15_000)
            return True
        except PlaywrightTimeout:
            return False

    assert wait_for(alert_shown, timeout_s=120, every_s=0), "no alert arrived in the live panel"
    expect(alert.locator(".alert-title")).to_have_text(WATCHED["title"])
    assert "<mark>zeppelin</mark>" in alert.locator(".snippet").inner_html()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    shot = page.screenshot(path=str(SCREENSHOT) if UPDATE_SCREENSHOT else None)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"


def test_suggested_words_join_the_query_only_for_the_languages_checked(page: Page, site: str, service, es_client):  # noqa: ANN001
    # One story told in five languages (the shipped samples): the English word finds it, the page
    # proposes what the other languages' articles say, and adds only what the author checks.
    quake = [row for path in ("stories-gold.jsonl", "stories-es-it.jsonl")
             for row in map(orjson.loads, (PROJECT_ROOT / "samples" / path).read_bytes().splitlines())
             if row["story"] == "quake-crete"]
    before = service.indexed_count(es_client)
    posted = httpx.post(f"{site}/articles", headers={"X-API-Key": WRITE_KEY}, timeout=60, json=[
        {key: row[key] for key in ("id", "title", "body", "source", "published_at")} for row in quake])
    assert posted.status_code == 202, posted.text
    assert service.wait_for_count(es_client, before + len(quake)) >= before + len(quake)
    page.fill("#api-key", WRITE_KEY)
    page.fill("#rule-form input[name=query]", "earthquake")
    page.click("#suggest")
    # Which languages join the English articles' story depends on the worker's batches; the words
    # themselves are checked in tests/newsstream/test_suggest.py.
    first = page.locator("#suggestions input[type=checkbox]").first
    expect(first).to_be_visible()
    language = first.get_attribute("value")
    shown = page.locator("#suggestions li").first.inner_text()
    first.check()
    page.click("#suggestions button")
    query = page.input_value("#rule-form input[name=query]")
    assert query.startswith(f"(earthquake) OR {language}:(") and query.count(":(") == 1
    assert shown.split(": ", 1)[1].split(" (")[0] in query  # the first word shown is in the clause


def test_a_rule_the_server_refuses_shows_why(page: Page):
    page.fill("#api-key", WRITE_KEY)
    page.fill("#rule-form input[name=name]", "broken")
    page.fill("#rule-form input[name=query]", "(sanctions AND")
    page.click("#rule-form button[type=submit]")
    expect(page.locator("#rule-message")).to_contain_text("400: invalid query")
    expect(page.locator("#rule-message")).to_have_attribute("data-outcome", "refused")


def test_a_rule_without_the_key_is_refused_with_the_reason(page: Page):
    page.fill("#rule-form input[name=name]", "keyless")
    page.fill("#rule-form input[name=query]", "anything")
    page.click("#rule-form button[type=submit]")
    expect(page.locator("#rule-message")).to_contain_text("401: missing or wrong API key")


@pytest.mark.parametrize(("snippet", "marked", "shown_text"), [
    ("EU <mark>sanctions</mark> &amp; more", 1, "EU sanctions & more"),
    ('<img src="x" onerror="window.pwned = 1">', 0, '<img src="x" onerror="window.pwned = 1">'),
    ('<mark onclick="window.pwned = 1">x</mark>', 0, '<mark onclick="window.pwned = 1">x</mark>'),
])
def test_a_snippet_is_markup_only_if_it_is_text_and_marks(page: Page, snippet: str, marked: int, shown_text: str):
    shown = page.evaluate("""snippet => {
        const node = document.createElement("p");
        document.body.append(node);
        setSnippet(node, snippet);
        return { marks: node.querySelectorAll("mark").length, text: node.textContent,
                 elements: node.querySelectorAll("*").length, pwned: window.pwned === 1 };
    }""", snippet)
    assert shown == {"marks": marked, "text": shown_text, "elements": marked, "pwned": False}


@pytest.mark.parametrize(("url", "linked"), [("https://example.org/a", True), ("javascript:alert(1)", False),
                                             ("data:text/html,x", False), (None, False)])
def test_a_title_links_only_to_web_addresses(page: Page, url: str | None, linked: bool):
    hit = {"id": "x", "title": "A title", "url": url, "language": "en", "snippets": [],
           "persons": [], "locations": [], "organizations": [], "entities": []}
    links = page.evaluate("hit => renderHit(hit).querySelectorAll('.hit-title a').length", hit)
    assert links == (1 if linked else 0)


def test_the_api_docs_render_with_nothing_from_elsewhere(browser: Browser, site: str):
    context = browser.new_context(base_url=site)
    elsewhere: list[str] = []

    def local_only(route) -> None:  # noqa: ANN001
        if route.request.url.startswith(site):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    docs = context.new_page()
    docs.goto("/docs")
    expect(docs.locator(".opblock-summary-path", has_text="/search").first).to_be_visible()
    expect(docs.locator(".opblock")).to_have_count(len(docs.evaluate("""async () => {
        const paths = (await (await fetch('/openapi.json')).json()).paths;
        return Object.values(paths).flatMap(Object.keys);
    }""")))
    context.close()
    assert elsewhere == []
