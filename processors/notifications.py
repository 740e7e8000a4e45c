"""What a delivery channel is sent for an alert: the bytes and headers of the request, built
without I/O (processors/webhooks.py sends them).

- `webhook`: the alert as JSON. With a secret configured (`NEWSSTREAM_WEBHOOK_SECRET`) it is
  signed, Stripe-style: `X-Newsstream-Timestamp` is the Unix time of the attempt and
  `X-Newsstream-Signature` is `sha256=` and the hex HMAC-SHA256, keyed by the secret, of the
  timestamp, a dot and the body. A receiver recomputes it over the raw body and rejects a
  mismatch or a timestamp more than a few minutes old (a replayed request).
- `slack`: an incoming-webhook message (`text` in Slack's mrkdwn, which Mattermost reads too):
  the rule, the title, the snippet with the matched words in bold, and where it came from.
"""
from __future__ import annotations

import hashlib
import hmac
import html
import json
import re

from schemas.alerts import Alert, Channel

TIMESTAMP_HEADER = "X-Newsstream-Timestamp"
SIGNATURE_HEADER = "X-Newsstream-Signature"
JSON = {"Content-Type": "application/json"}

_MARK = re.compile(r"</?mark>")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _slack_escaped(text: str) -> str:
    # Slack's mrkdwn gives &, < and > a meaning; everything else is literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(alert: Alert) -> str:
    # The snippet is HTML-escaped with <mark> around matches: bold them, unescape the rest.
    snippet = "".join(f"*{_slack_escaped(html.unescape(part))}*" if n % 2 else _slack_escaped(html.unescape(part))
                      for n, part in enumerate(_MARK.split(alert.snippet)))
    where = " · ".join(part for part in (alert.source, ", ".join(alert.languages) or alert.language) if part)
    more = f" · {alert.article_count} articles in this story" if alert.article_count > 1 else ""
    return f"*{_slack_escaped(alert.rule)}*: {_slack_escaped(alert.title)}\n{snippet}\n_{_slack_escaped(where)}{more}_"


def request_body(channel: Channel, alert: Alert, secret: str | None, timestamp: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers one attempt of `channel`'s delivery of `alert` sends."""
    if channel.kind == "slack":
        return json.dumps({"text": slack_text(alert)}, ensure_ascii=False).encode(), dict(JSON)
    body = alert.model_dump_json().encode()
    if secret is None:
        return body, dict(JSON)
    return body, {**JSON, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}
