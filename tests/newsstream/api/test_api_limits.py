"""What a client cannot make the API hold: bodies before the key check, bodies past the request
limit, oversized or unsendable articles (all or nothing), and slow request heads."""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from kafka import TopicPartition
from kafka.admin import OffsetSpec

from clients.kafka import admin_client
from newsstream.api.app import create_api
from newsstream.api.server import MAX_HEAD_BYTES
from tests.newsstream.api.conftest import WRITE_KEY, serve_app, with_keys

MIB = 1024 * 1024
GOOD = {"title": "Tram lines reopen in Lyon", "body": "The tram lines in Lyon run again after the storm."}


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM := VmRSS


def _chunks(total: int, size: int = MIB) -> Iterator[bytes]:
    chunk = b"x" * size  # one buffer sent again and again: the client holds 1 MiB, not `total`
    sent = 0
    while sent < total:
        yield chunk[: min(size, total - sent)]
        sent += size


def _raw_request(url: str, head: bytes, timeout_s: float = 10) -> bytes:
    """Sends a request head (no body) on a plain socket; what the server answers before closing."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout_s) as connection:
        connection.sendall(head)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def _raw_end_offsets(settings) -> int:  # noqa: ANN001
    with admin_client(settings.kafka, timeout_s=10) as admin:
        described = admin.describe_topics([settings.topic_raw])[0]
        partitions = [TopicPartition(settings.topic_raw, p["partition_index"]) for p in described["partitions"]]
        latest = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
        return sum(offset.offset for offset in latest.values())


def test_a_100_mb_unauthenticated_post_is_refused_before_its_body_is_read(api_url, capsys):  # noqa: ANN001
    httpx.get(f"{api_url}/livez")  # everything the first request loads is loaded
    rss_before = _status_kb("VmRSS")
    _reset_peak_rss()
    started = time.monotonic()
    refused = httpx.post(f"{api_url}/articles", content=_chunks(100 * MIB),
                         headers={"Content-Type": "application/json"}, timeout=60)
    elapsed = time.monotonic() - started
    peak, rss_after = _status_kb("VmHWM"), _status_kb("VmRSS")
    with capsys.disabled():
        print(f"\n100 MB unauthenticated POST: {refused.status_code} in {elapsed:.2f} s; RSS before {rss_before} kB, "
              f"peak during {peak} kB, after {rss_after} kB")
    assert refused.status_code == 401 and "X-API-Key" in refused.json()["detail"]
    assert peak - rss_before < 8 * 1024, f"RSS grew by {peak - rss_before} kB"


def test_a_declared_length_over_the_limit_is_413_at_once(api_url, service):  # noqa: ANN001
    limit = service.settings.api_request_limit
    head = (f"POST /articles HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {WRITE_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {limit + 1}\r\n\r\n").encode()
    answer = _raw_request(api_url, head)  # no body sent: the answer must not wait for it
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), answer[:200]
    assert f"over the limit of {limit} bytes".encode() in rest


def test_a_chunked_body_over_the_limit_is_413(client, service):  # noqa: ANN001
    limit = service.settings.api_request_limit
    rss_before = _status_kb("VmRSS")
    refused = client.post("/articles", content=_chunks(limit + 2 * MIB), headers={"Content-Type": "application/json"})
    assert refused.status_code == 413
    assert f"over the limit of {limit} bytes" in refused.json()["detail"]
    assert _status_kb("VmRSS") - rss_before < limit // 1024 + 16 * 1024


def test_an_article_over_the_body_limit_is_413_naming_it(client, service):  # noqa: ANN001
    limit = service.settings.max_body_bytes
    before = _raw_end_offsets(service.settings)
    refused = client.post("/articles", json=[GOOD, {"title": "big", "body": "x" * (limit + 1)}])
    assert refused.status_code == 413
    assert refused.json()["detail"].startswith(f"body[1].body: {limit + 1} bytes, over the limit of {limit} bytes")
    assert _raw_end_offsets(service.settings) == before


def _nested(depth: int) -> bytes:
    """An article whose metadata is `depth` objects deep, as JSON text (orjson writes at most 254)."""
    return b'{"body": "x", "metadata": ' + b'{"a": ' * (depth - 1) + b"{}" + b"}" * (depth - 1) + b"}"


@pytest.mark.parametrize(("bad", "where"), [
    (b'{"body": "x", "metadata": {"score": NaN}}', "body[1].metadata: Value error, metadata.score is nan"),
    (b'{"body": "x", "metadata": {"score": Infinity}}', "body[1].metadata: Value error, metadata.score is inf"),
    (b'{"body": "x", "metadata": {"score": 1e999}}', "body[1].metadata: Value error, metadata.score is inf"),
    (_nested(300), "body[1].metadata: Value error, metadata is nested more than 16 levels deep"),
    (_nested(17), "body[1].metadata: Value error, metadata is nested more than 16 levels deep"),
    (b'{"body": "x", "metadata": {"note": "\\ud800"}}', "body[1].metadata: Value error, metadata.note holds a lone "
                                                        "surrogate"),
    (b'{"body": "x", "title": "\\udfff"}', "body[1].title"),
    (b'{"body": "x", "id": ".."}', "body[1].id: Value error, an id cannot be"),
    (b'{"body": "x", "id": "."}', "body[1].id: Value error, an id cannot be"),
])
def test_a_list_with_one_bad_article_is_422_naming_it_and_nothing_is_produced(client, service, bad, where):  # noqa
    before = _raw_end_offsets(service.settings)
    refused = client.post("/articles", content=b"[" + orjson.dumps(GOOD) + b"," + bad + b"]",
                          headers={"Content-Type": "application/json"})
    assert refused.status_code == 422, refused.text
    assert where in refused.json()["detail"]
    assert _raw_end_offsets(service.settings) == before, "an article was produced"
    # The connection is still good for the next request (no bare 500 that drops it).
    assert client.post("/articles", json=GOOD).status_code == 202


def test_metadata_within_the_limits_is_accepted(client):  # noqa: ANN001
    deep: dict = {}
    for _ in range(14):
        deep = {"a": deep}
    accepted = client.post("/articles", json={**GOOD, "metadata": {"tags": ["a", "b"], "deep": deep,
                                                                  "score": 0.5, "note": "é 日本"}})
    assert accepted.status_code == 202, accepted.text


# --- slow request heads (slowloris) --------------------------------------------------------------

HEADER_TIMEOUT_S = 1.5
SLOW_CONNECTIONS = 40


@pytest.fixture(scope="module")
def quick_timeout_url(service) -> Iterator[str]:  # noqa: ANN001
    with serve_app(create_api(with_keys(service.settings)), header_timeout_s=HEADER_TIMEOUT_S) as url:
        yield url


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _closed_by_server(connection: socket.socket, trickle: bytes, deadline: float) -> bool:
    """Sends `trickle` a byte at a time until the server closes the connection or `deadline`."""
    connection.setblocking(False)
    for byte in trickle * 100:
        if time.monotonic() > deadline:
            return False
        try:
            if connection.recv(1024) == b"":
                return True
        except BlockingIOError:
            pass
        except ConnectionResetError:
            return True
        try:
            connection.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return True
        time.sleep(0.1)
    return False


def test_slow_request_heads_are_closed_and_others_still_answered(quick_timeout_url):  # noqa: ANN001
    address = _address(quick_timeout_url)
    connections = [socket.create_connection(address, timeout=5) for _ in range(SLOW_CONNECTIONS)]
    try:
        for connection in connections[1:]:  # the first sends nothing at all
            connection.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # Meanwhile the API answers others at once.
        started = time.monotonic()
        assert httpx.get(f"{quick_timeout_url}/livez", timeout=5).json() == {"status": "alive"}
        assert time.monotonic() - started < 1
        deadline = time.monotonic() + HEADER_TIMEOUT_S + 5
        # Each keeps sending a header byte every 0.1 s: never complete, never idle for long.
        closed = [_closed_by_server(connection, b"X-Slow: yes\r\n", deadline) for connection in connections]
        assert all(closed), f"{closed.count(False)} slow connections were still open"
    finally:
        for connection in connections:
            connection.close()


def test_a_slow_second_request_on_a_kept_alive_connection_is_closed_too(quick_timeout_url):  # noqa: ANN001
    with socket.create_connection(_address(quick_timeout_url), timeout=5) as connection:
        connection.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 200")
        connection.sendall(b"GET /livez HTTP/1.1\r\n")
        started = time.monotonic()
        assert _closed_by_server(connection, b"X-Slow: yes\r\n", started + HEADER_TIMEOUT_S + 5)
        assert time.monotonic() - started >= HEADER_TIMEOUT_S - 0.2


def test_a_request_head_over_the_limit_is_400(quick_timeout_url):  # noqa: ANN001
    with socket.create_connection(_address(quick_timeout_url), timeout=5) as connection:
        connection.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for _ in range(MAX_HEAD_BYTES // 8192 + 2):  # in pieces: h11 holds it incomplete
                connection.sendall(b"X-Pad: " + b"p" * 8192 + b"\r\n")
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400") or answer == b""


def test_a_request_head_sent_in_time_in_pieces_is_answered(quick_timeout_url):  # noqa: ANN001
    with socket.create_connection(_address(quick_timeout_url), timeout=5) as connection:
        for piece in (b"GET /livez HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"\r\n"):
            connection.sendall(piece)
            time.sleep(0.3)
        assert connection.recv(65536).startswith(b"HTTP/1.1 200")
