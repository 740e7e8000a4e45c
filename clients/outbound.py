"""One guard for every outbound request (webhooks, mail, feed sources, feed entry links).

Two moments: `check_url` when a URL is saved (scheme, userinfo, internal names, literal addresses;
no DNS unless asked), and request time, where `GuardedTransport`/`AsyncGuardedTransport` check
every request, redirect hops included (httpx calls the transport once per hop), then resolve the
host, check ALL its addresses and connect to a checked one. The resolution happens inside the
connection pool's network backend, so the socket goes to exactly the address that was checked
(no second lookup a rebinding DNS server could answer differently), while the URL, the Host
header, TLS SNI, certificate verification and the pool's keying all keep the original name.

Refusals are `OutboundRefused` (a ValueError) with a sentence safe to show users: it names the
host or literal address the user gave, never userinfo, and never the addresses a name resolved to.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import anyio
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

DEFAULT_PORTS = {"http": 80, "https": 443}


class OutboundRefused(ValueError):
    """A URL, host or address the policy refuses; str(error) is safe to show to users."""


class RequestRefused(OutboundRefused, httpx.RequestError):
    """A refusal raised while an httpx client sends or reads. Also an httpx.RequestError (not a
    TransportError), so code that already reports `httpx.HTTPError` without retrying reports it."""

    def __init__(self, message: str) -> None:
        httpx.RequestError.__init__(self, message)


class ResponseTooLarge(RequestRefused):
    """The response body is over the policy's (or the caller's) byte limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The response is larger than {limit} bytes; it was not read.")
        self.limit = limit


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses getaddrinfo gives for `host` (raises OSError, e.g. socket.gaierror)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class _AllowEntry:
    port: int | None
    network: IPNetwork | None = None
    name: str | None = None  # exact name, or ".suffix" for a "*.suffix" entry

    def matches_port(self, port: int | None) -> bool:
        return self.port is None or self.port == port


@dataclass(frozen=True)
class OutboundPolicy:
    """Where outbound requests may go. `allow` lists exceptions to the refusals: host names
    ("receiver.internal", "*.corp.example"), addresses or CIDR networks ("127.0.0.1", "10.0.0.0/8",
    "fd00::/8"), each optionally with a port ("receiver.internal:8443", "[::1]:8080").
    An allowed name skips the name rules and the checks of the addresses it resolves to."""

    allow: tuple[str, ...] = ()
    timeout_s: float = 10.0
    max_response_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5  # 0: redirects are not followed
    schemes: tuple[str, ...] = ("http", "https")
    resolver: Resolver = field(default=system_resolver, compare=False, repr=False)
    _entries: tuple[_AllowEntry, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Tuples even when given lists: the policy stays hashable and cannot change under a client.
        object.__setattr__(self, "allow", tuple(self.allow))
        object.__setattr__(self, "schemes", tuple(s.lower() for s in self.schemes))
        object.__setattr__(self, "_entries", tuple(_parse_allow(entry) for entry in self.allow))
        if self.max_redirects < 0 or self.max_response_bytes < 0:
            raise ValueError("max_redirects and max_response_bytes must not be negative")

    def allows_name(self, host: str, port: int | None) -> bool:
        host = _normalize_name(host)
        return any(e.name is not None and e.matches_port(port)
                   and (host == e.name or (e.name.startswith(".") and host.endswith(e.name)))
                   for e in self._entries)

    def allows_address(self, address: IPAddress, port: int | None, *, exact: bool = False) -> bool:
        address = _unmapped(address)
        return any(e.network is not None and e.matches_port(port) and address in e.network
                   and (not exact or e.network.num_addresses == 1)
                   for e in self._entries)


def _parse_allow(entry: str) -> _AllowEntry:
    """'host', 'host:port', 'ip', 'ip/len', '[v6]', '[v6/len]:port', bare 'v6' or 'v6/len'."""
    text, port = entry.strip(), None
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"invalid allow-list entry {entry!r}")
            port = int(rest[1:])
        text = inside
    elif text.count(":") == 1:
        text, port_text = text.split(":")
        if not port_text.isdigit():
            raise ValueError(f"invalid allow-list entry {entry!r}")
        port = int(port_text)
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"invalid port in allow-list entry {entry!r}")
    try:
        return _AllowEntry(port=port, network=ipaddress.ip_network(text, strict=False))
    except ValueError:
        pass
    name = _normalize_name(text.removeprefix("*")) if text.startswith("*.") else _normalize_name(text)
    if not name or not _NAME.fullmatch(name.lstrip(".")):
        raise ValueError(f"invalid allow-list entry {entry!r}")
    return _AllowEntry(port=port, name=name)


# --- Addresses -------------------------------------------------------------------------------

def _nets(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# Cloud instance metadata: refused even when a broader allowed network covers them; only an
# allow-list entry for that exact address lets one through.
_METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"))

# First match gives the reason. Written out rather than `is_global`, whose answers have changed
# between Python patch releases (and which counts multicast as global).
_REFUSED_V4: tuple[tuple[tuple[IPNetwork, ...], str], ...] = (
    (_nets("0.0.0.0/8"), "an unspecified ('this network') address"),
    (_nets("127.0.0.0/8"), "a loopback address"),
    (_nets("169.254.0.0/16"), "a link-local address"),
    (_nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"), "a private address"),
    (_nets("100.64.0.0/10"), "a shared (carrier-grade NAT) address"),
    (_nets("224.0.0.0/4"), "a multicast address"),
    (_nets("255.255.255.255/32"), "the broadcast address"),
    (_nets("240.0.0.0/4", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15",
           "198.51.100.0/24", "203.0.113.0/24"), "a reserved address"),
)
_REFUSED_V6: tuple[tuple[tuple[IPNetwork, ...], str], ...] = (
    (_nets("::/128"), "an unspecified address"),
    (_nets("::1/128"), "a loopback address"),
    (_nets("fe80::/10"), "a link-local address"),
    (_nets("fc00::/7"), "a unique-local (private) address"),
    (_nets("fec0::/10"), "a site-local (private) address"),
    (_nets("ff00::/8"), "a multicast address"),
    # Teredo (2001::/32) hides an IPv4 address too; 64:ff9b:1::/48 is local-use NAT64.
    (_nets("2001::/23", "2001:db8::/32", "3fff::/20", "64:ff9b:1::/48", "100::/64"),
     "a reserved address"),
)
# IPv6 forms that carry an IPv4 address: refused when that address would be.
_NAT64, _COMPAT, _TRANSLATED = _nets("64:ff9b::/96", "::/96", "::ffff:0:0:0/96")
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")


def _unmapped(address: IPAddress) -> IPAddress:
    """::ffff:a.b.c.d is a.b.c.d for every purpose here."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded_v4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64:
        return low32, "NAT64"
    if address in _COMPAT:
        return low32, "IPv4-compatible"
    if address in _TRANSLATED:
        return low32, "IPv4-translated"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    return None


def refusal_reason(address: IPAddress) -> str | None:
    """Why `address` is refused ("a loopback address", ...), or None for a public address;
    the allow-list is not consulted."""
    address = _unmapped(address)
    if address in _METADATA:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv4Address):
        return next((reason for nets, reason in _REFUSED_V4 if any(address in n for n in nets)), None)
    reason = next((reason for nets, reason in _REFUSED_V6 if any(address in n for n in nets)), None)
    if reason:
        return reason
    embedded = _embedded_v4(address)
    if embedded:
        inner = refusal_reason(embedded[0])
        return f"{inner} (in {embedded[1]} IPv6 form)" if inner else None
    return None if address in _GLOBAL_UNICAST_V6 else "a reserved address"


_V4_PART = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")


def _parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 literal in any form inet_aton (so getaddrinfo and browsers) accepts: 2130706433,
    0x7f000001, 0177.0.0.1, 127.1, 0. None for a name; a host that ends in a number but is
    not a valid address (1.2.3.4.5, 08.0.0.1) is refused rather than looked up (as WHATWG)."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not _V4_PART.fullmatch(parts[-1]):
        return None
    numbers = []
    for part in parts:
        if not _V4_PART.fullmatch(part):
            numbers = []
            break
        if part[:2] in ("0x", "0X"):
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if not set(part) <= set("01234567"):
                numbers = []
                break
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    if (not numbers or len(numbers) > 4 or any(n > 255 for n in numbers[:-1])
            or numbers[-1] >= 256 ** (5 - len(numbers))):
        raise OutboundRefused(f"The host {host} is not a valid IPv4 address.")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address `host` spells (IPv6 with or without brackets and zone), None for a name."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(unquote(host))  # a zone comes as %25eth0 in URLs
        except ValueError:
            raise OutboundRefused(f"The host {host} is not a valid IPv6 address.") from None
    return _parse_ipv4(host)


def check_address(ip: str | IPAddress, policy: OutboundPolicy, port: int | None = None) -> IPAddress:
    """The address, if it may be reached (on `port`: port-specific allow entries need it);
    else OutboundRefused."""
    address = ip if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address)) else parse_ip_literal(ip)
    if address is None:
        raise OutboundRefused(f"{ip} is not an IP address.")
    reason = refusal_reason(address)
    if reason is None or policy.allows_address(address, port, exact=reason == "a cloud metadata address"):
        return address
    raise OutboundRefused(f"Requests to {_unmapped(address)} are refused: it is {reason}.")


# --- Names -----------------------------------------------------------------------------------

_NAME = re.compile(r"(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*")
_REFUSED_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "metadata.goog",
                            "metadata.google.internal", "instance-data.ec2.internal"})
# Special-use and private-use domains: they only mean something inside a network.
_REFUSED_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa", ".lan",
                     ".intranet", ".svc")


def _normalize_name(host: str) -> str:
    return host.strip().lower().removesuffix(".")


def _check_name(host: str, port: int, policy: OutboundPolicy) -> bool:
    """Refuse internal names; True when the allow-list names this host (its addresses are then
    not checked)."""
    name = _normalize_name(host)
    if policy.allows_name(name, port):
        return True
    if not _NAME.fullmatch(name):
        raise OutboundRefused(f"The host {host!r} is not a valid host name.")
    if name in _REFUSED_NAMES or name.endswith(_REFUSED_SUFFIXES):
        raise OutboundRefused(f"The host {name} is an internal name; requests to it are refused.")
    if "." not in name:  # "kafka", "elasticsearch": container and intranet names
        raise OutboundRefused(f"The host {name} has no domain: internal names are refused.")
    return False


def resolve_and_check(host: str, port: int, policy: OutboundPolicy) -> list[str]:
    """The addresses to connect to for host:port, all of them checked: one refused address refuses
    the host (a round-robin answer must not sneak one internal address in). A literal is checked
    without a lookup. Raises OutboundRefused, or OSError when the name does not resolve."""
    literal = parse_ip_literal(host)
    if literal is not None:
        return [str(check_address(literal, policy, port))]
    allowed_name = _check_name(host, port, policy)
    answers = list(policy.resolver(host, port))
    if not answers:
        raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address")
    for answer in answers:
        address = parse_ip_literal(answer)
        if address is None:
            raise OutboundRefused(f"The host {host} resolved to something that is not an address.")
        reason = refusal_reason(address)
        if reason is None:
            continue
        if policy.allows_address(address, port, exact=reason == "a cloud metadata address"):
            continue
        if allowed_name and reason != "a cloud metadata address":
            continue
        raise OutboundRefused(f"The host {_normalize_name(host)} resolves to {reason}; "
                              "requests to it are refused.")
    return answers


def check_url(url: str | httpx.URL, policy: OutboundPolicy, *, resolve: bool = False) -> str:
    """The URL (normalised by httpx, the parser that will send it) if it may be saved/requested;
    else OutboundRefused. `resolve=True` also looks the name up and checks its addresses."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        raise OutboundRefused("This is not a valid URL.") from None
    if parsed.scheme not in policy.schemes:
        allowed = " or ".join(policy.schemes) or "no"
        raise OutboundRefused(f"Only {allowed} URLs are allowed.")
    if parsed.userinfo:
        raise OutboundRefused("URLs with a user name or password are not allowed; "
                              "configure credentials separately.")
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise OutboundRefused("The URL has no host.")
    port = parsed.port or DEFAULT_PORTS.get(parsed.scheme)
    if port is None or not 0 < port < 65536:
        raise OutboundRefused("The URL's port is not valid.")
    literal = parse_ip_literal(host)
    if literal is not None:
        check_address(literal, policy, port)
    elif resolve:
        try:
            resolve_and_check(host, port, policy)
        except OSError:
            raise OutboundRefused(f"The host {_normalize_name(host)} cannot be resolved.") from None
    else:
        _check_name(host, port, policy)
    return str(parsed)


def check_smtp_host(host: str, port: int, policy: OutboundPolicy) -> str:
    """The checked address to connect to for a mail server. Connect to that address and keep
    `host` for STARTTLS/SMTPS verification (smtplib: subclass and override `_get_socket`, or set
    `server_hostname=host` when wrapping the socket yourself)."""
    if not 0 < port < 65536:
        raise OutboundRefused("The mail server's port is not valid.")
    try:
        return resolve_and_check(host, port, policy)[0]
    except OSError:
        raise OutboundRefused(f"The mail server {_normalize_name(host)} cannot be resolved.") from None


# --- httpx integration -----------------------------------------------------------------------

def _refused(error: OutboundRefused) -> RequestRefused:
    return error if isinstance(error, RequestRefused) else RequestRefused(str(error))


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves and checks at connect time, then connects to a checked address."""

    def __init__(self, policy: OutboundPolicy, inner: httpcore.NetworkBackend) -> None:
        self._policy, self._inner = policy, inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        try:
            addresses = resolve_and_check(host, port, self._policy)
        except OutboundRefused as error:
            raise _refused(error) from None
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        failure: Exception | None = None
        for address in addresses:  # every one was checked: fall back in resolver order
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise RequestRefused("Unix sockets are not allowed.")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: OutboundPolicy, inner: httpcore.AsyncNetworkBackend) -> None:
        self._policy, self._inner = policy, inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            # getaddrinfo blocks: run it in a thread, abandoned (not awaited) past the timeout.
            with anyio.fail_after(timeout):
                addresses = await anyio.to_thread.run_sync(
                    resolve_and_check, host, port, self._policy, abandon_on_cancel=True)
        except OutboundRefused as error:
            raise _refused(error) from None
        except TimeoutError as error:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from error
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise RequestRefused("Unix sockets are not allowed.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _install_backend(transport: httpx.BaseTransport | httpx.AsyncBaseTransport, wrap: Callable[[Any], Any]) -> None:
    """Wrap the pool's network backend. httpx has no public hook for it, so check the internals
    are as expected and fail loudly otherwise: a silently unguarded client is the worst outcome."""
    pool = getattr(transport, "_pool", None)
    if type(pool) not in (httpcore.ConnectionPool, httpcore.AsyncConnectionPool) \
            or not hasattr(pool, "_network_backend"):
        raise RuntimeError("httpx/httpcore internals changed: cannot guard the connection pool")
    pool._network_backend = wrap(pool._network_backend)


def _reject_unsafe(options: dict[str, Any], names: Iterable[str]) -> None:
    given = sorted(name for name in names if options.get(name) is not None)
    if given:
        raise TypeError(f"not allowed on a guarded transport/client: {', '.join(given)}")


class _CappedStream(httpx.SyncByteStream):
    """Stops a body (as sent, before decompression) at the policy's byte limit."""

    def __init__(self, inner: httpx.SyncByteStream, limit: int) -> None:
        self._inner, self._limit = inner, limit

    def __iter__(self) -> Iterator[bytes]:
        size = 0
        for chunk in self._inner:
            size += len(chunk)
            if size > self._limit:
                raise ResponseTooLarge(self._limit)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class _AsyncCappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, limit: int) -> None:
        self._inner, self._limit = inner, limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self._inner:
            size += len(chunk)
            if size > self._limit:
                raise ResponseTooLarge(self._limit)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class GuardedTransport(httpx.HTTPTransport):
    """httpx.HTTPTransport (same options, minus proxy and uds) that checks each request's URL,
    connects only to checked addresses and caps each raw body at policy.max_response_bytes."""

    def __init__(self, policy: OutboundPolicy, **options: Any) -> None:
        _reject_unsafe(options, ("proxy", "uds"))
        super().__init__(**options)
        self.policy = policy
        _install_backend(self, lambda inner: _GuardedBackend(policy, inner))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            check_url(request.url, self.policy)
        except OutboundRefused as error:
            raise _refused(error) from None
        response = super().handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _CappedStream(response.stream, self.policy.max_response_bytes)
        return response


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    """The asyncio/trio twin of GuardedTransport."""

    def __init__(self, policy: OutboundPolicy, **options: Any) -> None:
        _reject_unsafe(options, ("proxy", "uds"))
        super().__init__(**options)
        self.policy = policy
        _install_backend(self, lambda inner: _AsyncGuardedBackend(policy, inner))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            check_url(request.url, self.policy)
        except OutboundRefused as error:
            raise _refused(error) from None
        response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _AsyncCappedStream(response.stream, self.policy.max_response_bytes)
        return response


# Options of httpx.Client that configure its default transport: given to ours instead.
_TRANSPORT_OPTIONS = ("verify", "cert", "http1", "http2", "limits", "local_address", "retries",
                      "socket_options")


def _client_options(policy: OutboundPolicy, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    # Proxies (also from HTTP(S)_PROXY via trust_env) and mounts would bypass the transport.
    _reject_unsafe(options, ("transport", "mounts", "proxy", "follow_redirects", "max_redirects"))
    if options.pop("trust_env", False):
        raise TypeError("not allowed on a guarded client: trust_env")
    transport_options = {name: options.pop(name) for name in _TRANSPORT_OPTIONS if name in options}
    client_options = {"timeout": policy.timeout_s, **options, "trust_env": False,
                      "follow_redirects": policy.max_redirects > 0, "max_redirects": policy.max_redirects}
    return client_options, transport_options


def guarded_client(policy: OutboundPolicy, **options: Any) -> httpx.Client:
    """An httpx.Client whose every request and redirect hop goes through the policy."""
    client_options, transport_options = _client_options(policy, options)
    return httpx.Client(transport=GuardedTransport(policy, **transport_options), **client_options)


def guarded_async_client(policy: OutboundPolicy, **options: Any) -> httpx.AsyncClient:
    """An httpx.AsyncClient whose every request and redirect hop goes through the policy."""
    client_options, transport_options = _client_options(policy, options)
    return httpx.AsyncClient(transport=AsyncGuardedTransport(policy, **transport_options), **client_options)


def _declared_over(response: httpx.Response, limit: int) -> bool:
    declared = response.headers.get("content-length", "")
    return declared.isdigit() and int(declared) > limit


def _already_read(response: httpx.Response) -> bytes | None:
    try:
        return response.content
    except httpx.ResponseNotRead:
        return None


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The decoded body of a streamed response (`client.stream(...)`), read no further than
    `limit` bytes; ResponseTooLarge (and the response closed) beyond."""
    body = _already_read(response)
    if body is not None:
        if len(body) > limit:
            raise ResponseTooLarge(limit)
        return body
    chunks, size = [], 0
    if not _declared_over(response, limit):
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                break
            chunks.append(chunk)
        else:
            return b"".join(chunks)
    await response.aclose()
    raise ResponseTooLarge(limit)


def read_capped_sync(response: httpx.Response, limit: int) -> bytes:
    """read_capped for httpx.Client responses."""
    body = _already_read(response)
    if body is not None:
        if len(body) > limit:
            raise ResponseTooLarge(limit)
        return body
    chunks, size = [], 0
    if not _declared_over(response, limit):
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                break
            chunks.append(chunk)
        else:
            return b"".join(chunks)
    response.close()
    raise ResponseTooLarge(limit)
