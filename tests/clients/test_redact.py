"""Redaction: no userinfo, query string or fragment of any URL survives in messages or logs."""
from __future__ import annotations

import io
import logging
import string
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clients.redact import RedactingFilter, redact_text, redact_url


@pytest.mark.parametrize(("url", "redacted"), [
    ("http://esuser:pw@es:9200/x?api_key=1", "http://es:9200/x"),
    ("https://user:secret@host/", "https://host/"),
    ("https://token@api.example.com/v1/hook#frag", "https://api.example.com/v1/hook"),
    ("http://:pw@[::1]:9200/", "http://[::1]:9200/"),
    ("redis://:pw@cache:6379/0", "redis://cache:6379/0"),
    ("https://example.com/feed.xml?token=abc&x=1", "https://example.com/feed.xml"),
    ("https://example.com/plain", "https://example.com/plain"),
    ("http://u:p%40ss@host:1/a/b", "http://host:1/a/b"),
    ("http://user:pa@ss@host/", "http://host/"),  # an unencoded @ in the password
    ("http://u:pw@[::1/x?k=v", "http://[::1/x"),  # not parseable by urlsplit
    ("http://u:pa[ss@es/x", "http://es/x"),
    ("es:9200/x?api_key=1", "es:9200/x"),
])
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@pytest.mark.parametrize(("text", "redacted"), [
    ("ConnectionError(Connection error caused by: NewConnectionError('http://esuser:pw@localhost:9200'))",
     "ConnectionError(Connection error caused by: NewConnectionError('http://localhost:9200'))"),
    ("<Urllib3HttpNode(http://elastic:changeme@es01:9200)> failed", "<Urllib3HttpNode(http://es01:9200)> failed"),
    ("GET https://api.example.com/x?api_key=k1 -> 500; retry https://api.example.com/y?sig=s2.",
     "GET https://api.example.com/x -> 500; retry https://api.example.com/y."),
    ("see (https://a.example/c?token=x).", "see (https://a.example/c)."),
    ("cannot connect to esuser:s3cr3t@es.example:9200 now", "cannot connect to es.example:9200 now"),
    ("broker admin:hunter2@10.0.0.5 down", "broker 10.0.0.5 down"),
    ("dsn postgresql://app:pw@db/news", "dsn postgresql://db/news"),
    ("x 'http://u:a'b@host/p' y", "x 'http://host/p' y"),  # a quote inside the password
    ("GET http://h.example/p?q='a'&sig=(x)) failed", "GET http://h.example/p)) failed"),  # ")" kept as punctuation
    ("GET \"http://h.example/p?q='a'&sig=x\" failed", "GET \"http://h.example/p\" failed"),
    ("Authorization: Basic dXNlcjpwdw==", "Authorization: Basic [redacted]"),
    ("headers={'authorization': 'Bearer abc.def'}", "headers={'authorization': 'Bearer [redacted]'}"),
])
def test_redact_text(text: str, redacted: str) -> None:
    assert redact_text(text) == redacted


@pytest.mark.parametrize("text", [
    "mail alice@example.com at 10:30",
    "took 12:30:45 on host-1",
    "ratio 3:4, see docs",
    "plain text with no URL",
    "path /a/b:c@d is not a credential",
    "",
])
def test_redact_text_keeps_text_without_secrets(text: str) -> None:
    assert redact_text(text) == text


# Every character a URL may carry unencoded in userinfo, query and fragment, except the quote
# that delimits the quoted variants below (repr() picks the other quote when a string holds one).
SECRET_CHARS = string.ascii_letters + string.digits + "-._~!$&()*+,;=%:[]"
secrets = st.text(alphabet=SECRET_CHARS, min_size=6, max_size=20).filter(lambda s: any(c.isalnum() for c in s))


@given(user=st.text(alphabet=string.ascii_letters + string.digits + "-._", min_size=1, max_size=10),
       password=secrets, query=secrets, fragment=secrets,
       host=st.sampled_from(["es", "localhost", "es.example.com", "10.0.0.1", "[::1]"]),
       port=st.one_of(st.none(), st.integers(1, 65535)))
def test_no_password_query_or_fragment_survives(user: str, password: str, query: str, fragment: str,
                                                host: str, port: int | None) -> None:
    netloc = host + (f":{port}" if port else "")
    url = f"http://{user}:{password}@{netloc}/path?q={query}#{fragment}"
    assert redact_url(url) == f"http://{netloc}/path"
    for text in (url, f"error: {url}", f"Error('{url}')", f"<Node({url})>", f'"{url}" failed'):
        out = redact_text(text)
        assert f"{user}:{password}" not in out and "@" not in out
        assert password not in out and query not in out and fragment not in out
        assert f"http://{netloc}/path" in out


@given(prefix=st.text(max_size=30), suffix=st.text(max_size=30))
def test_text_around_a_url_is_kept(prefix: str, suffix: str) -> None:
    prefix, suffix = prefix + " ", " " + suffix  # separated from the URL, as in any message
    out = redact_text(f"{prefix}https://u:topsecret@h.example/x?k=v{suffix}")
    assert "topsecret" not in out and "k=v" not in out
    assert out.startswith(redact_text(prefix)) and out.endswith(redact_text(suffix))


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test_redact.child")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.removeHandler(handler)


def test_filter_redacts_message_and_args(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    logger.info("connecting to %s as %r", "http://esuser:pw@es:9200/?api_key=k", "admin:hunter2@es:9200")
    logger.warning("plain %d", 5)
    assert stream.getvalue() == "INFO connecting to http://es:9200/ as 'es:9200'\nWARNING plain 5\n"


def test_filter_redacts_exceptions(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    try:
        raise ConnectionError("Connection error caused by: 'http://esuser:pw@localhost:9200/_bulk?x=1'")
    except ConnectionError:
        logger.exception("indexing failed for %s", "https://u:tok@api.example/hook")
    out = stream.getvalue()
    assert "pw@" not in out and "esuser" not in out and "tok" not in out and "x=1" not in out
    assert "Traceback (most recent call last)" in out
    assert "ConnectionError: Connection error caused by: 'http://localhost:9200/_bulk'" in out
    assert out.startswith("ERROR indexing failed for https://api.example/hook\n")


def test_filter_redacts_stack_info_and_survives_bad_args(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    logger.info("fetch http://a:b@h.example/ %s %s", "only-one", stack_info=True)  # one arg missing
    logger.error("x http://u:secret@h.example/", stack_info=True)
    out = stream.getvalue()
    assert "secret" not in out and "a:b@" not in out and "Stack (most recent call last)" in out


def test_filter_lets_every_record_through() -> None:
    record = logging.LogRecord("n", logging.INFO, __file__, 1, "m %s", ("http://u:p@h/",), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "m http://h/"


def test_installed_redaction_covers_records_of_any_handler(caplog) -> None:  # noqa: ANN001
    import logging

    from clients.redact import install_log_redaction

    previous = logging.getLogRecordFactory()
    try:
        install_log_redaction()
        install_log_redaction()  # idempotent
        try:
            raise ConnectionError("cannot reach http://esuser:topsecret@es:9200/_bulk")
        except ConnectionError:
            logging.getLogger("newsstream.test").exception("indexing failed at %s", "http://u:pw2@h/x?token=t")
        text = caplog.text
        assert "topsecret" not in text and "pw2" not in text and "token=t" not in text
        assert "http://es:9200/_bulk" in text and "http://h/x" in text
    finally:
        logging.setLogRecordFactory(previous)


def test_a_redacted_record_formats_under_fausts_log_formatter() -> None:
    # mode (Faust's logging) colours each argument of a record: a redacted record must still format.
    from mode.utils.logging import ExtensionFormatter

    record = logging.LogRecord("faust", logging.INFO, __file__, 1, "Creating topic %r at %s",
                               ("articles.raw", "http://u:p@es:9200/"), None)
    RedactingFilter().filter(record)
    formatter = ExtensionFormatter(stream=io.StringIO(), fmt="%(message)s")
    assert formatter.format(record) == "Creating topic 'articles.raw' at http://es:9200/"
