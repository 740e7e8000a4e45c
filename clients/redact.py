"""No secret in any message: URLs lose their userinfo, query string and fragment (where API keys
and tokens travel), wherever they appear in text, and log records are redacted the same way.

Messages of client libraries carry their configured URL, credentials included: elasticsearch-py
raises `ConnectionError(... 'http://esuser:pw@localhost:9200' ...)`, and error reporting,
logs and API responses would repeat it.
"""
from __future__ import annotations

import logging
import re

# scheme://… A URL quoted in text ('…' or "…", as in exception reprs) runs to its closing quote;
# an unquoted one to whitespace or <>` (query strings may hold quotes and brackets). The userinfo
# may hold anything but whitespace and / ? # @ (an unencoded password "a'b").
_URL = re.compile(r"(?P<q>['\"])?(?P<url>\b[A-Za-z][A-Za-z0-9+.-]*://(?:[^\s/?#@]*@)?"
                  r"(?(q)(?:(?!(?P=q))\S)*|[^\s<>`]*))")
# user:password@host[:port] without a scheme, not inside a longer token (an email has no colon
# before its @, so "alice@example.com" is left alone).
_BARE_CREDENTIALS = re.compile(
    r"(?<![\w.%+:/@-])[\w.%+-]+:[^\s@/'\"<>`]+@(?P<host>\[[0-9A-Fa-f:.]+\]|[\w.-]+)(?P<port>:\d+)?")
# Authorization headers as printed in request dumps and debug logs.
_AUTHORIZATION = re.compile(r"(?i)\b(authorization['\"]?\s*[:=]\s*['\"]?(?:basic|bearer|apikey|token)\s+)[^\s'\"]+")
_TRAILING = ".,;:!?)]}"


def redact_url(url: str) -> str:
    """`url` without userinfo, query string and fragment: http://u:pw@es:9200/x?api_key=1 -> http://es:9200/x.

    Split by hand rather than with urlsplit, which raises on what logs hold (a "[" in a password)."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return re.split(r"[?#]", url, maxsplit=1)[0]
    authority_end = re.search(r"[/?#]", rest)
    cut = authority_end.start() if authority_end else len(rest)
    host = rest[:cut].rpartition("@")[2]
    path = re.split(r"[?#]", rest[cut:], maxsplit=1)[0]
    return f"{scheme}://{host}{path}"


def redact_path(url: str) -> str:
    """Only `url`'s scheme and host: https://hooks.slack.com/services/T/B/token -> https://hooks.slack.com/…,
    for URLs whose path is the secret."""
    scheme, _, rest = redact_url(url).partition("://")
    return f"{scheme}://{re.split(r'/', rest, maxsplit=1)[0]}/…"


def _redact_match(match: re.Match[str]) -> str:
    url = match.group("url")
    stripped = url.rstrip(_TRAILING)  # "(see http://x/y)." keeps its ")."
    return (match.group("q") or "") + redact_url(stripped) + url[len(stripped):]


def redact_text(text: str) -> str:
    """`text` with every embedded URL redacted (redact_url), scheme-less user:pw@host[:port]
    reduced to host[:port] and Authorization header values replaced; the rest is kept."""
    text = _URL.sub(_redact_match, text)
    text = _BARE_CREDENTIALS.sub(lambda m: m.group("host") + (m.group("port") or ""), text)
    return _AUTHORIZATION.sub(r"\1[redacted]", text)


class RedactingFilter(logging.Filter):
    """Redacts each record's message (arguments merged in), exception and stack text.

    Attach it to handlers (`handler.addFilter(RedactingFilter())`): a logger's filters do not see
    records propagated from child loggers. The record is rewritten in place, so every handler after
    this one sees the redacted record too, and the traceback is pre-rendered into `exc_text`
    (exc_info dropped) so no formatter renders the raw exception again."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad format arguments: logging would report them; keep the template
            message = str(record.msg)
        record.msg, record.args = redact_text(message), ()  # not None: formatters (mode's) map over args
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def install_log_redaction() -> None:
    """Redacts every log record of this process as it is created, whichever handlers a framework
    (Faust, uvicorn) installs later; safe to call again."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacts", False):
        return
    redact = RedactingFilter()

    def redacting_factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        redact.filter(record)
        return record

    redacting_factory.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)
