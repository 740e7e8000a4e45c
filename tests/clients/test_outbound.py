"""The outbound guard: refused URLs, hosts and addresses, the allow-list, and the httpx clients
(redirect hops, DNS answers, body caps) against local servers on 127.0.0.1 only."""
from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpcore
import httpx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clients import outbound
from clients.outbound import (
    OutboundPolicy,
    OutboundRefused,
    RequestRefused,
    ResponseTooLarge,
    check_address,
    check_smtp_host,
    check_url,
    guarded_async_client,
    guarded_client,
    parse_ip_literal,
    read_capped,
    read_capped_sync,
    resolve_and_check,
)

PUBLIC_V4 = "93.184.215.14"


@pytest.fixture(autouse=True)
def no_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only loopback literals may reach getaddrinfo (httpcore's connect does): no test looks up a
    name or leaves the machine."""
    real = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host not in ("127.0.0.1", "127.0.0.2", "::1"):
            raise AssertionError(f"unexpected getaddrinfo({host!r})")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)


def fake_resolver(table: dict[str, Sequence[str]]) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        try:
            return list(table[host])
        except KeyError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
    return resolve


def policy(*allow: str, resolver: dict[str, Sequence[str]] | None = None, **kwargs: object) -> OutboundPolicy:
    return OutboundPolicy(allow=allow, resolver=fake_resolver(resolver or {}), **kwargs)  # type: ignore[arg-type]


# --- literal addresses -------------------------------------------------------------------------

REFUSED_ADDRESSES = [
    "127.0.0.1", "127.255.255.254", "::1",
    "169.254.1.1", "fe80::1", "fe80::1%eth0",
    "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "100.64.0.1", "100.127.255.255",
    "fc00::1", "fd12:3456::1",
    "224.0.0.1", "239.255.255.250", "ff02::1",
    "0.0.0.0", "::",
    "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.18.0.1",
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200",
    # IPv6 forms of IPv4 addresses
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::ffff:0:127.0.0.1",
    "::127.0.0.1", "::10.0.0.1",
    "64:ff9b::127.0.0.1", "64:ff9b::10.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1",
    "2002:7f00:1::", "2002:a00:1::1", "2002:a9fe:a9fe::",
    "2001::1", "2001:db8::1", "100::1", "fec0::1",
]


@pytest.mark.parametrize("ip", REFUSED_ADDRESSES)
def test_refused_addresses(ip: str) -> None:
    with pytest.raises(OutboundRefused, match="are refused: it is"):
        check_address(ip, OutboundPolicy())


@pytest.mark.parametrize("ip", [PUBLIC_V4, "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111",
                                "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"])
def test_public_addresses_pass(ip: str) -> None:
    assert check_address(ip, OutboundPolicy()) == ipaddress.ip_address(ip)


@pytest.mark.parametrize(("literal", "meant"), [
    ("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("0X7F000001", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"), ("0177.0.0.01", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("0", "0.0.0.0"), ("0x0", "0.0.0.0"),
    ("127.0.0.1.", "127.0.0.1"), ("3232235777", "192.168.1.1"), ("0xa9fea9fe", "169.254.169.254"),
    ("[::1]", "::1"), ("::ffff:7f00:1", "::ffff:127.0.0.1"),
])
def test_literal_forms_parse_like_the_resolver(literal: str, meant: str) -> None:
    assert parse_ip_literal(literal) == ipaddress.ip_address(meant)
    with pytest.raises(OutboundRefused):
        check_address(literal, OutboundPolicy())


@pytest.mark.parametrize("host", ["1.2.3.4.5", "08.0.0.1", "1.2.3.256", "256.1", "4294967296", "1.0x1g"])
def test_hosts_ending_in_a_number_that_are_not_addresses_are_refused(host: str) -> None:
    # "1.0x1g" ends in a name label and is a name; the others would be guessed at by resolvers.
    if host == "1.0x1g":
        assert parse_ip_literal(host) is None
    else:
        with pytest.raises(OutboundRefused, match="not a valid IPv4 address"):
            parse_ip_literal(host)


@pytest.mark.parametrize("host", ["example.com", "news.bbc.co.uk", "0x7f000001.example.com", "1.2.3.com"])
def test_names_are_not_literals(host: str) -> None:
    assert parse_ip_literal(host) is None


@st.composite
def ipv4_spelling(draw: st.DrawFn) -> tuple[str, int]:
    """An IPv4 address spelled in one of the forms inet_aton accepts: 1-4 parts, each part
    decimal, octal or hex, the last one filling the remaining bytes."""
    value = draw(st.integers(0, 2**32 - 1))
    count = draw(st.integers(1, 4))
    octets = value.to_bytes(4, "big")
    numbers = list(octets[:count - 1]) + [int.from_bytes(octets[count - 1:], "big")]

    def spell(n: int) -> str:
        form = draw(st.sampled_from(["dec", "oct", "hex", "HEX"]))
        return {"dec": str(n), "oct": "0" + format(n, "o"), "hex": hex(n), "HEX": "0X" + format(n, "X")}[form]

    return ".".join(spell(n) for n in numbers), value


@given(ipv4_spelling())
def test_every_ipv4_spelling_parses_as_inet_aton_does(spelled: tuple[str, int]) -> None:
    text, value = spelled
    assert parse_ip_literal(text) == ipaddress.IPv4Address(value)
    assert socket.inet_aton(text) == value.to_bytes(4, "big")


@given(st.text(alphabet="0123456789abcdefxX.", min_size=1, max_size=20))
def test_what_inet_aton_accepts_is_never_taken_for_a_name(text: str) -> None:
    try:
        expected = socket.inet_aton(text)
    except OSError:
        return
    assert parse_ip_literal(text) == ipaddress.IPv4Address(expected)


REFUSED_V4_NETS = [net for nets, _ in outbound._REFUSED_V4 for net in nets]


@given(st.sampled_from(REFUSED_V4_NETS), st.integers(min_value=0), st.sampled_from(
    ["{v4}", "::ffff:{v4}", "64:ff9b::{v4}", "::{v4}", "2002:{hi:x}:{lo:x}::1", "{int}", "{hex}"]))
def test_every_refused_ipv4_is_refused_in_every_form(net: ipaddress.IPv4Network, offset: int, form: str) -> None:
    v4 = net[offset % net.num_addresses]
    spelled = form.format(v4=v4, hi=int(v4) >> 16, lo=int(v4) & 0xFFFF, int=int(v4), hex=hex(int(v4)))
    with pytest.raises(OutboundRefused):
        check_address(spelled, OutboundPolicy())


@given(st.integers(1 << 24, 223 << 24))  # 1.0.0.0 to 223.0.0.0: mostly public
def test_public_ipv4_pass(value: int) -> None:
    address = ipaddress.IPv4Address(value)
    assume(not any(address in net for net in REFUSED_V4_NETS))
    assert check_address(address, OutboundPolicy()) == address
    assert check_address(f"::ffff:{address}", OutboundPolicy())


# --- URLs at save time -------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "message"), [
    ("http://127.0.0.1:9200/", "loopback"),
    ("http://localhost:9092", "internal name"),
    ("http://LOCALHOST.:9092", "internal name"),
    ("http://api.localhost/", "internal name"),
    ("http://[::1]:9200/", "loopback"),
    ("http://0x7f000001:9200/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0177.0.0.1/", "not a valid URL"),  # httpx refuses to parse this one itself
    ("http://127.1/", "loopback"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", "internal name"),
    ("http://metadata/", "no domain"),
    ("http://elasticsearch:9200/", "no domain"),
    ("http://printer.local/", "internal name"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[64:ff9b::7f00:1]/", "loopback"),
    ("http://[fe80::1%25eth0]/", "link-local"),
    ("http://10.0.0.5/hook", "private"),
    ("http://%6c%6fcalhost/", "not a valid host name"),
    ("ftp://example.com/", "Only http or https"),
    ("file:///etc/passwd", "Only http or https"),
    ("gopher://example.com/", "Only http or https"),
    ("http:///path", "no host"),
    ("http://example.com:99999/", "port"),
    ("not a url at all", "Only http or https"),
])
def test_check_url_refusals(url: str, message: str) -> None:
    with pytest.raises(OutboundRefused, match=message):
        check_url(url, OutboundPolicy())


@pytest.mark.parametrize("url", ["https://user:secret@example.com/", "http://user@example.com/",
                                 "http://:secret@example.com/", "https://esuser:pw@127.0.0.1:9200/"])
def test_userinfo_is_refused_and_never_echoed(url: str) -> None:
    with pytest.raises(OutboundRefused, match="user name or password") as refused:
        check_url(url, policy("127.0.0.1"))
    message = str(refused.value)
    assert "secret" not in message and "esuser" not in message and "pw" not in message and "@" not in message


def test_check_url_accepts_public_urls_without_resolving() -> None:
    # No resolver entry: a lookup would raise, so this also proves nothing was resolved.
    assert check_url("https://Example.COM/feed.xml?x=1", policy()) == "https://example.com/feed.xml?x=1"
    assert check_url(f"http://{PUBLIC_V4}:8080/", policy()) == f"http://{PUBLIC_V4}:8080/"


def test_check_url_resolve_refuses_a_name_with_a_private_address() -> None:
    p = policy(resolver={"hooks.example.com": ["10.0.0.7"], "ok.example.com": [PUBLIC_V4]})
    assert check_url("https://hooks.example.com/x", p) == "https://hooks.example.com/x"  # not resolved
    with pytest.raises(OutboundRefused, match="resolves to a private address") as refused:
        check_url("https://hooks.example.com/x", p, resolve=True)
    assert "10.0.0.7" not in str(refused.value)  # internal DNS answers are not disclosed
    assert check_url("https://ok.example.com/x", p, resolve=True)
    with pytest.raises(OutboundRefused, match="cannot be resolved"):
        check_url("https://missing.example.com/", p, resolve=True)


def test_custom_schemes() -> None:
    with pytest.raises(OutboundRefused, match="Only https URLs"):
        check_url("http://example.com/", OutboundPolicy(schemes=("https",)))


# --- resolution ------------------------------------------------------------------------------

def test_resolve_and_check_needs_every_address_to_pass() -> None:
    p = policy(resolver={"mixed.example.com": [PUBLIC_V4, "127.0.0.1"],
                         "v6.example.com": [PUBLIC_V4, "::ffff:169.254.169.254"],
                         "good.example.com": [PUBLIC_V4, "2606:4700::1"]})
    with pytest.raises(OutboundRefused, match="loopback"):
        resolve_and_check("mixed.example.com", 443, p)
    with pytest.raises(OutboundRefused, match="metadata"):
        resolve_and_check("v6.example.com", 443, p)
    assert resolve_and_check("good.example.com", 443, p) == [PUBLIC_V4, "2606:4700::1"]


def test_resolve_and_check_literals_skip_the_resolver() -> None:
    assert resolve_and_check(PUBLIC_V4, 80, policy()) == [PUBLIC_V4]
    with pytest.raises(OutboundRefused):
        resolve_and_check("0x7f000001", 80, policy())


def test_resolve_and_check_unresolvable_is_an_os_error() -> None:
    with pytest.raises(OSError):
        resolve_and_check("missing.example.com", 80, policy())
    with pytest.raises(OSError):
        resolve_and_check("empty.example.com", 80, policy(resolver={"empty.example.com": []}))


def test_check_smtp_host() -> None:
    p = policy("smtp.internal:587", resolver={"mail.example.com": [PUBLIC_V4], "evil.example.com": ["192.168.0.2"],
                                             "smtp.internal": ["10.0.0.25"]})
    assert check_smtp_host("mail.example.com", 587, p) == PUBLIC_V4
    assert check_smtp_host("smtp.internal", 587, p) == "10.0.0.25"
    with pytest.raises(OutboundRefused, match="internal name"):
        check_smtp_host("smtp.internal", 25, p)
    with pytest.raises(OutboundRefused, match="private"):
        check_smtp_host("evil.example.com", 25, p)
    with pytest.raises(OutboundRefused, match="loopback"):
        check_smtp_host("127.0.0.1", 25, p)
    with pytest.raises(OutboundRefused, match="cannot be resolved"):
        check_smtp_host("nowhere.example.com", 25, p)


# --- the allow-list --------------------------------------------------------------------------

def test_allow_address_cidr_and_port() -> None:
    p = policy("127.0.0.1", "10.0.0.0/8", "192.168.1.5:8443", "[fd00::1]:9000", "fd12::/16")
    assert check_url("http://127.0.0.1:9200/", p)
    assert check_url("http://0x7f000001:9200/", p)  # the same address, however spelled
    assert check_url("http://10.200.3.4/", p)
    assert check_url("https://192.168.1.5:8443/hook", p)
    with pytest.raises(OutboundRefused):
        check_url("https://192.168.1.5/hook", p)  # port 443: not the allowed port
    with pytest.raises(OutboundRefused):
        check_url("http://192.168.1.6:8443/", p)
    assert check_url("http://[fd00::1]:9000/", p)
    with pytest.raises(OutboundRefused):
        check_url("http://[fd00::1]:9001/", p)
    assert check_url("http://[fd12:1::5]/", p)
    with pytest.raises(OutboundRefused):
        check_url("http://127.0.0.2/", p)
    with pytest.raises(OutboundRefused, match="internal name"):
        check_url("http://localhost:9200/", p)  # allowing an address does not allow a name


def test_allow_name_with_port_skips_the_address_checks() -> None:
    p = policy("receiver.internal:8443", "*.corp.example",
               resolver={"receiver.internal": ["10.1.1.1"], "hooks.corp.example": ["192.168.3.3"],
                         "meta.corp.example": ["169.254.169.254"]})
    assert check_url("https://receiver.internal:8443/in", p, resolve=True)
    with pytest.raises(OutboundRefused, match="internal name"):
        check_url("https://receiver.internal/in", p)
    assert resolve_and_check("hooks.corp.example", 443, p) == ["192.168.3.3"]
    with pytest.raises(OutboundRefused, match="internal name"):
        check_url("https://corp.example.internal/", p)
    # Metadata endpoints need their exact address in the list, whatever else is allowed.
    with pytest.raises(OutboundRefused, match="metadata"):
        resolve_and_check("meta.corp.example", 80, p)


def test_metadata_needs_its_exact_address_in_the_allow_list() -> None:
    with pytest.raises(OutboundRefused, match="metadata"):
        check_address("169.254.169.254", policy("169.254.0.0/16"))
    assert check_address("169.254.1.1", policy("169.254.0.0/16"))
    assert check_address("169.254.169.254", policy("169.254.169.254"))


@pytest.mark.parametrize("entry", ["", "host:port", "[::1]x", "a b", "10.0.0.1:0", "[::1]:70000", "exa mple.com"])
def test_invalid_allow_entries_fail_at_construction(entry: str) -> None:
    with pytest.raises(ValueError):
        OutboundPolicy(allow=(entry,))


def test_policy_is_frozen_and_hashable() -> None:
    p = OutboundPolicy(allow=["127.0.0.1"])  # type: ignore[arg-type]
    assert p.allow == ("127.0.0.1",)
    hash(p)
    with pytest.raises(AttributeError):
        p.max_redirects = 9  # type: ignore[misc]


# --- the httpx clients against local servers -------------------------------------------------

class Server:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.headers: list[dict[str, str]] = []
        hits, headers = self.hits, self.headers

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                hits.append(self.path)
                headers.append(dict(self.headers))
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", query["to"])
                    self.end_headers()
                elif url.path == "/big":  # no Content-Length: the body runs to the close
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(int(query["n"]) // 1000):
                        self.wfile.write(b"x" * 1000)
                elif url.path == "/declared":
                    self.send_response(200)
                    self.send_header("Content-Length", str(10**9))
                    self.end_headers()
                    self.wfile.write(b"x" * 100)
                else:
                    body = f"host={self.headers['Host']}".encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]  # clients hang up on /big
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Server, Server]]:
    first, second = Server(), Server()
    yield first, second
    first.close()
    second.close()


@pytest.fixture
def servers_fresh(servers: tuple[Server, Server]) -> tuple[Server, Server]:
    for server in servers:
        server.hits.clear()
        server.headers.clear()
    return servers


def local_policy(first: Server, **kwargs: object) -> OutboundPolicy:
    """Only the first server's port on 127.0.0.1 is allowed; news.example.com resolves to it."""
    resolver = kwargs.pop("resolver", None) or {"news.example.com": ["127.0.0.1"]}
    return policy(f"127.0.0.1:{first.port}", resolver=resolver, **kwargs)  # type: ignore[arg-type]


def test_transport_pool_is_guarded() -> None:
    transport = outbound.GuardedTransport(OutboundPolicy())
    assert isinstance(transport._pool._network_backend, outbound._GuardedBackend)
    async_transport = outbound.AsyncGuardedTransport(OutboundPolicy())
    assert isinstance(async_transport._pool._network_backend, outbound._AsyncGuardedBackend)


def test_allowed_request_keeps_the_name_in_the_host_header(servers_fresh: tuple[Server, Server]) -> None:
    first, _ = servers_fresh
    with guarded_client(local_policy(first)) as client:
        response = client.get(f"http://news.example.com:{first.port}/ok")
    assert response.status_code == 200
    assert response.text == f"host=news.example.com:{first.port}"
    assert str(response.url) == f"http://news.example.com:{first.port}/ok"


@pytest.mark.parametrize("target", [
    "http://127.0.0.1:{second}/ok",        # an address, on a port the allow-list does not list
    "http://localhost:{first}/ok",         # a refused name, even though its address would pass
    "http://[::1]:{first}/ok",
    "http://0x7f000001:{second}/ok",
    "http://169.254.169.254/latest/meta-data/",
    "http://private.example.com:{first}/ok",   # resolves to a private address
    "http://mixed.example.com:{first}/ok",     # one of its addresses is refused
    "http://user:pw@news.example.com:{first}/ok",
    "ftp://news.example.com/x",
])
def test_redirect_hop_to_a_refused_target_is_refused(servers_fresh: tuple[Server, Server], target: str) -> None:
    first, second = servers_fresh
    location = target.format(first=first.port, second=second.port)
    p = local_policy(first, resolver={"news.example.com": ["127.0.0.1"], "private.example.com": ["10.0.0.1"],
                                      "mixed.example.com": ["127.0.0.1", "192.168.0.1"]})
    with guarded_client(p) as client, pytest.raises(RequestRefused) as refused:
        client.get(f"http://news.example.com:{first.port}/redirect", params={"to": location})
    assert len(first.hits) == 1  # the first hop only
    assert second.hits == []
    assert isinstance(refused.value, httpx.HTTPError)  # existing `except httpx.HTTPError` reports it
    assert "pw" not in str(refused.value)


def test_redirect_hop_to_an_allowed_target_is_followed(servers_fresh: tuple[Server, Server]) -> None:
    first, _ = servers_fresh
    with guarded_client(local_policy(first)) as client:
        response = client.get(f"http://127.0.0.1:{first.port}/redirect",
                              params={"to": f"http://news.example.com:{first.port}/ok"})
    assert response.status_code == 200 and response.text == f"host=news.example.com:{first.port}"
    assert [r.status_code for r in response.history] == [302]


def test_max_redirects(servers_fresh: tuple[Server, Server]) -> None:
    first, _ = servers_fresh
    hop = f"http://127.0.0.1:{first.port}/redirect?to=/ok"
    with guarded_client(local_policy(first, max_redirects=0)) as client:
        response = client.get(hop)
        assert response.status_code == 302 and first.hits == ["/redirect?to=/ok"]
        with pytest.raises(httpx.TooManyRedirects):
            client.get(hop, follow_redirects=True)  # a per-request override cannot lift the limit
    twice = httpx.URL(f"http://127.0.0.1:{first.port}/redirect", params={"to": hop})
    with guarded_client(local_policy(first, max_redirects=1)) as client, pytest.raises(httpx.TooManyRedirects):
        client.get(twice)


def test_userinfo_request_sends_nothing(servers_fresh: tuple[Server, Server]) -> None:
    first, _ = servers_fresh
    with guarded_client(local_policy(first)) as client, pytest.raises(RequestRefused, match="user name or password"):
        client.get(f"http://user:secret@127.0.0.1:{first.port}/ok")
    assert first.hits == []


def test_dns_answer_is_checked_at_each_connection(servers_fresh: tuple[Server, Server]) -> None:
    """A rebinding name: allowed on the first lookup, private on the next one."""
    first, _ = servers_fresh
    answers = iter([["127.0.0.1"], ["192.168.0.1"]])
    p = OutboundPolicy(allow=(f"127.0.0.1:{first.port}",), resolver=lambda host, port: next(answers))
    with guarded_client(p) as client:  # the test server closes each connection (HTTP/1.0)
        assert client.get(f"http://rebind.example.com:{first.port}/ok").status_code == 200
        with pytest.raises(RequestRefused, match="private"):
            client.get(f"http://rebind.example.com:{first.port}/ok")
    assert len(first.hits) == 1


def test_unresolvable_host_is_a_connect_error() -> None:
    with guarded_client(policy()) as client, pytest.raises(httpx.ConnectError):
        client.get("http://missing.example.com/")


def test_falls_back_to_the_next_checked_address(servers_fresh: tuple[Server, Server]) -> None:
    first, second = servers_fresh
    # 127.0.0.2 is allowed but nothing listens there on this port (refused connection).
    p = OutboundPolicy(allow=(f"127.0.0.1:{first.port}", "127.0.0.2"),
                       resolver=lambda host, port: ["127.0.0.2", "127.0.0.1"])
    try:
        with socket.create_connection(("127.0.0.2", first.port), timeout=1):
            pytest.skip("127.0.0.2 reaches the test server on this system")
    except OSError:
        pass
    with guarded_client(p) as client:
        assert client.get(f"http://two.example.com:{first.port}/ok").status_code == 200


def test_size_cap_while_streaming(servers_fresh: tuple[Server, Server]) -> None:
    first, _ = servers_fresh
    with guarded_client(local_policy(first)) as client:
        with client.stream("GET", f"http://127.0.0.1:{first.port}/big?n=200000") as response:
            with pytest.raises(ResponseTooLarge, match="larger than 5000 bytes"):
                read_capped_sync(response, 5000)
            assert response.is_closed
        with client.stream("GET", f"http://127.0.0.1:{first.port}/big?n=3000") as response:
            assert read_capped_sync(response, 5000) == b"x" * 3000
        with client.stream("GET", f"http://127.0.0.1:{first.port}/declared") as response:
            with pytest.raises(ResponseTooLarge):  # refused from Content-Length, before reading
                read_capped_sync(response, 5000)
        # An already-read response is checked too.
        response = client.get(f"http://127.0.0.1:{first.port}/big?n=6000")
        with pytest.raises(ResponseTooLarge):
            read_capped_sync(response, 5000)


def test_policy_caps_every_body(servers_fresh: tuple[Server, Server]) -> None:
    first, _ = servers_fresh
    with guarded_client(local_policy(first, max_response_bytes=10_000)) as client:
        assert len(client.get(f"http://127.0.0.1:{first.port}/big?n=10000").content) == 10_000
        with pytest.raises(ResponseTooLarge) as too_large:
            client.get(f"http://127.0.0.1:{first.port}/big?n=500000")
    assert isinstance(too_large.value, OutboundRefused) and isinstance(too_large.value, httpx.HTTPError)


def test_async_client(servers_fresh: tuple[Server, Server]) -> None:
    first, second = servers_fresh
    p = local_policy(first, resolver={"news.example.com": ["127.0.0.1"], "db.example.com": ["10.9.9.9"]})

    async def scenario() -> None:
        async with guarded_async_client(p) as client:
            response = await client.get(f"http://news.example.com:{first.port}/ok")
            assert response.text == f"host=news.example.com:{first.port}"
            with pytest.raises(RequestRefused, match="loopback"):
                await client.get(f"http://127.0.0.1:{first.port}/redirect",
                                 params={"to": f"http://127.0.0.1:{second.port}/ok"})
            with pytest.raises(RequestRefused, match="internal name"):
                await client.get(f"http://127.0.0.1:{first.port}/redirect",
                                 params={"to": f"http://localhost:{first.port}/ok"})
            with pytest.raises(RequestRefused, match="private"):
                await client.get("http://db.example.com/")
            async with client.stream("GET", f"http://127.0.0.1:{first.port}/big?n=100000") as streamed:
                with pytest.raises(ResponseTooLarge):
                    await read_capped(streamed, 2000)
            async with client.stream("GET", f"http://127.0.0.1:{first.port}/big?n=2000") as streamed:
                assert await read_capped(streamed, 2000) == b"x" * 2000

    asyncio.run(scenario())
    assert second.hits == []


def test_async_resolution_timeout() -> None:
    import time

    def slow(host: str, port: int) -> list[str]:
        time.sleep(2)
        return [PUBLIC_V4]

    async def scenario() -> None:
        async with guarded_async_client(OutboundPolicy(resolver=slow, timeout_s=0.2)) as client:
            with pytest.raises(httpx.ConnectTimeout):
                await client.get("http://slow.example.com/")

    asyncio.run(scenario())


def test_unsafe_client_options_are_refused() -> None:
    for options in ({"transport": httpx.HTTPTransport()}, {"proxy": "http://proxy.example.com:3128"},
                    {"mounts": {}}, {"trust_env": True}, {"follow_redirects": True}):
        with pytest.raises(TypeError):
            guarded_client(OutboundPolicy(), **options)
    with pytest.raises(TypeError):
        outbound.GuardedTransport(OutboundPolicy(), uds="/tmp/socket")


def test_client_ignores_proxy_environment(monkeypatch: pytest.MonkeyPatch, servers_fresh: tuple[Server, Server]) -> None:
    first, _ = servers_fresh
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.0.0.1:3128")
    with guarded_client(local_policy(first), timeout=2) as client:
        assert client.get(f"http://127.0.0.1:{first.port}/ok").status_code == 200
    assert client.timeout.connect == 2


def test_client_defaults_come_from_the_policy() -> None:
    with guarded_client(OutboundPolicy(timeout_s=3, max_redirects=2), verify=False, http2=False) as client:
        assert client.timeout.read == 3 and client.max_redirects == 2 and client.follow_redirects
    with guarded_client(OutboundPolicy(max_redirects=0)) as client:
        assert not client.follow_redirects


def test_errors_are_one_hierarchy() -> None:
    assert issubclass(RequestRefused, OutboundRefused) and issubclass(ResponseTooLarge, RequestRefused)
    assert issubclass(OutboundRefused, ValueError) and not issubclass(OutboundRefused, httpx.HTTPError)
    assert issubclass(RequestRefused, httpx.RequestError)
    assert not issubclass(RequestRefused, httpx.TransportError)  # callers do not retry a refusal
    assert str(ResponseTooLarge(10)) == "The response is larger than 10 bytes; it was not read."


def test_unix_sockets_are_refused() -> None:
    backend = outbound._GuardedBackend(OutboundPolicy(), httpcore.SyncBackend())
    with pytest.raises(RequestRefused):
        backend.connect_unix_socket("/var/run/docker.sock")


@settings(max_examples=50)
@given(st.sampled_from(REFUSED_ADDRESSES))
def test_resolved_refused_address_is_never_connected(address: str) -> None:
    p = OutboundPolicy(resolver=lambda host, port: [address])
    backend = outbound._GuardedBackend(p, httpcore.MockBackend([]))
    with pytest.raises(RequestRefused):
        backend.connect_tcp("anything.example.com", 80)
