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

A digest, or a throttled rule's message with what was held back, lists its alerts in the same
forms (`bundle_*`).
"""
from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

import orjson

from schemas.alerts import Alert, Channel, Notification

TIMESTAMP_HEADER = "X-Newsstream-Timestamp"
# Mail headers naming what a message is about, for receivers' filters (and the latency benchmark).
ALERT_HEADER = "X-Newsstream-Alert"
NOTIFICATION_HEADER = "X-Newsstream-Notification"
SIGNATURE_HEADER = "X-Newsstream-Signature"
JSON = {"Content-Type": "application/json"}
# A digest's mail and chat message list this many alerts (newest first); the webhook gets them all.
BUNDLE_LISTED = 50

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


def _mail_parts(alert: Alert, heading_tag: str) -> tuple[str, str]:
    """One alert in a mail, as plain text and as HTML."""
    plain = html.unescape(_MARK.sub("", alert.snippet))
    link = _link(alert)
    text = "\n\n".join(part for part in (alert.title, plain, _origin(alert), link) if part)
    title = html.escape(alert.title)
    heading = f'<a href="{html.escape(link)}">{title}</a>' if link else title
    return text, "".join((f"<{heading_tag}>{heading}</{heading_tag}>",
                          f"<p>{alert.snippet}</p>",  # escaped already, <mark> around the matched words
                          f"<p style=\"color:#666\">{html.escape(_origin(alert))}</p>"))


def _mail(subject: str, sender: str, recipient: str, date: datetime, text: str, body: str,
          about: tuple[str, str]) -> EmailMessage:
    message = EmailMessage()
    message[about[0]] = about[1]  # an id: hex, no newline
    # Header values: the model's strings may hold anything, and a newline would start a header.
    message["Subject"] = " ".join(subject.split())[:200]
    message["From"], message["To"] = sender, recipient
    message["Date"] = format_datetime(date)
    message["Message-ID"] = make_msgid("alert")
    message.set_content(text)
    message.add_alternative("<html><body>" + body + "</body></html>", subtype="html")
    return message


def mail_message(alert: Alert, sender: str, recipient: str) -> EmailMessage:
    text, body = _mail_parts(alert, "h2")
    matched = f"Rule: {alert.rule} · matched {', '.join(alert.matched_terms)}"
    return _mail(f"[newsstream] {alert.rule}: {alert.title}", sender, recipient, alert.matched_at,
                 f"{text}\n\n{matched}\n",
                 body + f"<p style=\"color:#666\">Rule <b>{html.escape(alert.rule)}</b> · matched "
                        f"{html.escape(', '.join(alert.matched_terms))}</p>", (ALERT_HEADER, alert.id))


def bundle_heading(notification: Notification, tz: str = "UTC") -> str:
    """What a digest or throttled message says it is: "Daily digest, 3 Dec 2026 08:00 Europe/Paris"."""
    count = len(notification.alert_ids)
    matches = f"{count} match{'es' if count != 1 else ''}"
    if notification.kind == "throttled":
        return f"{matches} (this rule is throttled: what was held back is listed here)"
    when = notification.period.astimezone(ZoneInfo(tz)).strftime("%d %b %Y %H:%M").lstrip("0")
    return f"Digest of {when} {tz}: {matches}"


def bundle_mail_message(notification: Notification, alerts: list[Alert], heading: str, sender: str,
                        recipient: str) -> EmailMessage:
    """A digest or throttled message: every alert listed (up to BUNDLE_LISTED), newest first."""
    parts = [_mail_parts(alert, "h3") for alert in alerts[:BUNDLE_LISTED]]
    more = len(alerts) - len(parts)
    tail = f"… and {more} more (newsstream alerts recent --rule {notification.rule})" if more > 0 else ""
    text = "\n\n---\n\n".join([heading] + [plain for plain, _ in parts] + ([tail] if tail else []))
    body = (f"<h2>{html.escape(notification.rule)}: {html.escape(heading)}</h2>" + "<hr>".join(part for _, part in parts)
            + (f"<p>{html.escape(tail)}</p>" if tail else ""))
    return _mail(f"[newsstream] {notification.rule}: {heading}", sender, recipient, notification.created_at,
                 text + "\n", body, (NOTIFICATION_HEADER, notification.id))


def slack_text(alert: Alert) -> str:
    # The snippet is HTML-escaped with <mark> around matches: bold them, unescape the rest.
    snippet = "".join(f"*{_slack_escaped(html.unescape(part))}*" if n % 2 else _slack_escaped(html.unescape(part))
                      for n, part in enumerate(_MARK.split(alert.snippet)))
    link = _link(alert)
    title = f"<{link}|{_slack_escaped(alert.title)}>" if link else _slack_escaped(alert.title)
    return f"*{_slack_escaped(alert.rule)}*: {title}\n{snippet}\n_{_slack_escaped(_origin(alert))}_"


def _signed(body: bytes, secret: str | None, timestamp: int) -> tuple[bytes, dict[str, str]]:
    if secret is None:
        return body, dict(JSON)
    return body, {**JSON, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def _slack(text: str) -> tuple[bytes, dict[str, str]]:
    return json.dumps({"text": text}, ensure_ascii=False).encode(), dict(JSON)


def request_body(channel: Channel, alert: Alert, secret: str | None, timestamp: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers one attempt of `channel`'s delivery of `alert` sends."""
    if channel.kind == "slack":
        return _slack(slack_text(alert))
    return _signed(alert.model_dump_json().encode(), secret, timestamp)


def bundle_request_body(channel: Channel, notification: Notification, alerts: list[Alert], heading: str,
                        secret: str | None, timestamp: int) -> tuple[bytes, dict[str, str]]:
    """A digest or throttled message: a webhook gets `{"notification": …, "heading": …, "alerts": [every
    alert]}`, signed like a single alert; a chat channel a list of the first BUNDLE_LISTED."""
    if channel.kind == "slack":
        lines = [f"*{_slack_escaped(notification.rule)}*: {_slack_escaped(heading)}"]
        for alert in alerts[:BUNDLE_LISTED]:
            link = _link(alert)
            title = f"<{link}|{_slack_escaped(alert.title)}>" if link else _slack_escaped(alert.title)
            lines.append(f"• {title} _{_slack_escaped(_origin(alert))}_")
        if len(alerts) > BUNDLE_LISTED:
            lines.append(f"… and {len(alerts) - BUNDLE_LISTED} more")
        return _slack("\n".join(lines))
    body = orjson.dumps({"notification": notification.model_dump(mode="json"), "heading": heading,
                         "alerts": [alert.model_dump(mode="json") for alert in alerts]})
    return _signed(body, secret, timestamp)
