"""What a delivery channel is sent for an alert: the bytes and headers of the request, built
without I/O (processors/delivery.py sends them).

- `webhook`: the alert as JSON. With a secret configured (`NEWSSTREAM_WEBHOOK_SECRET`) it is
  signed, Stripe-style: `X-Newsstream-Timestamp` is the Unix time of the attempt and
  `X-Newsstream-Signature` is `sha256=` and the hex HMAC-SHA256, keyed by the secret, of the
  timestamp, a dot and the body. A receiver recomputes it over the raw body and rejects a
  mismatch or a timestamp more than a few minutes old (a replayed request).
- `slack`: an incoming-webhook message (`text` in Slack's mrkdwn, which Mattermost reads too):
  the rule, the title, the snippet with the matched words in bold, and where it came from.
- `email`: a message with a plain-text and an HTML part (the same content, matched words marked)
  and a link to the article when it has an http(s) URL.
"""
from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

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


def _origin(alert: Alert) -> str:
    where = " · ".join(part for part in (alert.source, ", ".join(alert.languages) or alert.language) if part)
    more = f" · {alert.article_count} articles in this story" if alert.article_count > 1 else ""
    return where + more


def _link(alert: Alert) -> str | None:
    # Only a web link: an article's URL comes from its feed, and a mail reader would follow anything.
    return alert.url if alert.url and alert.url.startswith(("https://", "http://")) else None


def mail_message(alert: Alert, sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    # Header values: the model's strings may hold anything, and a newline would start a header.
    message["Subject"] = " ".join(f"[newsstream] {alert.rule}: {alert.title}".split())[:200]
    message["From"], message["To"] = sender, recipient
    message["Date"] = format_datetime(alert.matched_at)
    message["Message-ID"] = make_msgid("alert")
    plain = html.unescape(_MARK.sub("", alert.snippet))
    link = _link(alert)
    message.set_content("\n\n".join(part for part in (alert.title, plain, _origin(alert), link) if part) +
                        f"\n\nRule: {alert.rule} · matched {', '.join(alert.matched_terms)}\n")
    title = html.escape(alert.title)
    heading = f'<a href="{html.escape(link)}">{title}</a>' if link else title
    body = [f"<h2>{heading}</h2>",
            f"<p>{alert.snippet}</p>",  # escaped already, <mark> around the matched words
            f"<p style=\"color:#666\">{html.escape(_origin(alert))}</p>",
            f"<p style=\"color:#666\">Rule <b>{html.escape(alert.rule)}</b> · matched "
            f"{html.escape(', '.join(alert.matched_terms))}</p>"]
    message.add_alternative("<html><body>" + "".join(body) + "</body></html>", subtype="html")
    return message


def slack_text(alert: Alert) -> str:
    # The snippet is HTML-escaped with <mark> around matches: bold them, unescape the rest.
    snippet = "".join(f"*{_slack_escaped(html.unescape(part))}*" if n % 2 else _slack_escaped(html.unescape(part))
                      for n, part in enumerate(_MARK.split(alert.snippet)))
    link = _link(alert)
    title = f"<{link}|{_slack_escaped(alert.title)}>" if link else _slack_escaped(alert.title)
    return f"*{_slack_escaped(alert.rule)}*: {title}\n{snippet}\n_{_slack_escaped(_origin(alert))}_"


def request_body(channel: Channel, alert: Alert, secret: str | None, timestamp: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers one attempt of `channel`'s delivery of `alert` sends."""
    if channel.kind == "slack":
        return json.dumps({"text": slack_text(alert)}, ensure_ascii=False).encode(), dict(JSON)
    body = alert.model_dump_json().encode()
    if secret is None:
        return body, dict(JSON)
    return body, {**JSON, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}
