"""A local HTTP server (127.0.0.1 only) serving test feeds and article pages, recording every request,
and the builders of those feeds and pages."""
from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email.utils import format_datetime
from datetime import datetime, timezone
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Text that sits on every test page around the article; none of it may reach an article's body.
BOILERPLATE_MARKERS = ("NAVTEXT", "COOKIETEXT", "RELATEDTEXT", "SCRIPTTEXT", "FOOTERTEXT")


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    failures_first: int = 0  # answer 500 to this many requests before serving the body


@dataclass
class Request:
    path: str
    headers: dict[str, str]


@dataclass
class FeedServer:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}))
                status, headers, body = server.answer(self.path, self.headers)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def requests_for(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]

    def answer(self, path: str, headers) -> tuple[int, dict[str, str], bytes]:  # noqa: ANN001
        route = self.routes.get(path)
        if route is None:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        if route.failures_first > 0:
            route.failures_first -= 1
            return 500, {"Content-Type": "text/plain"}, b"try again"
        validators = {name: value for name, value in (("ETag", route.etag), ("Last-Modified", route.last_modified)) if value}
        if (route.etag and headers.get("If-None-Match") == route.etag) or (
                route.last_modified and headers.get("If-Modified-Since") == route.last_modified):
            return 304, validators, b""
        return route.status, {"Content-Type": route.content_type, **validators}, route.body


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed"


@dataclass
class Item:
    title: str
    link: str
    summary: str
    published: datetime = field(default_factory=lambda: datetime(2024, 3, 5, 8, 30, tzinfo=timezone.utc))
    guid: str | None = None


def rss_feed(title: str, items: list[Item], language: str = "en") -> bytes:
    entries = "".join(
        f"<item><title>{escape(item.title)}</title><link>{escape(item.link)}</link>"
        + (f'<guid isPermaLink="false">{escape(item.guid)}</guid>' if item.guid else f"<guid>{escape(item.link)}</guid>")
        + f"<pubDate>{format_datetime(item.published)}</pubDate><description>{escape(item.summary)}</description></item>"
        for item in items
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>http://127.0.0.1/</link><description>test</description><language>{language}</language>"
            f"{entries}</channel></rss>").encode()


def atom_feed(title: str, items: list[Item]) -> bytes:
    entries = "".join(
        f'<entry><title>{escape(item.title)}</title><link href="{escape(item.link)}"/>'
        f"<id>{escape(item.guid or item.link)}</id><updated>{item.published.isoformat()}</updated>"
        f'<summary type="html">{escape(item.summary)}</summary><author><name>Desk Writer</name></author></entry>'
        for item in items
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(title)}</title><id>urn:test:{escape(title)}</id>"
            f"<updated>2024-03-05T09:00:00Z</updated>{entries}</feed>").encode()


def article_page(title: str, paragraphs: list[str], author: str = "Jane Reporter", lang: str = "en-GB") -> bytes:
    """An article as news sites serve it: the text amid navigation, a cookie banner, related links and scripts."""
    body = "\n".join(f"<p>{escape(paragraph)}</p>" for paragraph in paragraphs)
    return f"""<!doctype html>
<html lang="{lang}"><head><title>{escape(title)} | Test News</title>
<meta name="author" content="{escape(author)}">
<meta property="article:published_time" content="2024-03-05T08:30:00Z">
<script>var analytics = "SCRIPTTEXT in the head";</script>
<style>body {{ font-family: serif; }}</style>
</head><body>
<div id="cookie-banner" class="cookie-consent"><p>COOKIETEXT We use cookies to give you the best experience.
Accept all cookies or manage your preferences.</p><button>Accept</button></div>
<header><nav><ul><li><a href="/">Home NAVTEXT</a></li><li><a href="/world">World</a></li>
<li><a href="/business">Business</a></li><li><a href="/sport">Sport</a></li></ul></nav></header>
<main><article><h1>{escape(title)}</h1><p class="byline">By {escape(author)}</p>
{body}
<script>document.write("SCRIPTTEXT inline");</script>
<aside class="related"><h3>Related articles</h3><ul>
<li><a href="/r1">RELATEDTEXT one: another story on the same topic</a></li>
<li><a href="/r2">RELATEDTEXT two: yet another story</a></li></ul></aside>
</article></main>
<footer><p>FOOTERTEXT © Test News. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
</body></html>""".encode()


def paragraphs_about(subject: str) -> list[str]:
    """Four paragraphs of plausible news prose about `subject`, long enough for extraction."""
    return [
        f"{subject} was announced on Tuesday morning by officials, who said the decision followed months of "
        "consultation with residents, businesses and the regional council.",
        f"Critics of {subject.lower()} argued that the timetable was too ambitious, while supporters pointed to "
        "the savings it would bring over the next ten years and to the jobs it would create.",
        "A spokesperson said a detailed report would be published within a fortnight and that public meetings "
        "would be held in every district before the end of the month.",
        "The council is expected to vote on the final plan in the spring, after the consultation closes and the "
        "independent auditors have delivered their assessment of the costs.",
    ]
