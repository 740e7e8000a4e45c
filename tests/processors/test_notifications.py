"""What each channel is sent for an alert, built without I/O."""
from __future__ import annotations

import hmac
import json

from processors.notifications import (
    SIGNATURE_HEADER, TIMESTAMP_HEADER, mail_message, request_body, signature, slack_text,
)
from processors.rulebook import shown
from schemas.alerts import Alert, Channel, Rule

ALERT = Alert(id="a1", rule="sanctions", article_id="x", title="EU <b>agrees</b> sanctions & curbs", language="en",
              matched_terms=["sanction"], snippet="new &lt;tough&gt; <mark>sanctions</mark> on &quot;tankers&quot;",
              source="Herald", languages=["en", "fr"], article_count=3)
WEBHOOK = Channel(kind="webhook", url="https://hooks.example.org/a")
SLACK = Channel(kind="slack", url="https://hooks.slack.com/services/T0/B0/tok3n")


def test_the_signature_is_the_hmac_of_timestamp_dot_body() -> None:
    # A fixed vector, so receivers in other languages can check their implementation against it.
    assert signature("secret", 1700000000, b'{"id":"a1"}') == (
        "sha256=" + hmac.new(b"secret", b'1700000000.{"id":"a1"}', "sha256").hexdigest())
    body, headers = request_body(WEBHOOK, ALERT, "secret", 1700000000)
    assert Alert.model_validate_json(body) == ALERT
    assert headers[TIMESTAMP_HEADER] == "1700000000" and headers[SIGNATURE_HEADER] == signature("secret", 1700000000, body)
    assert request_body(WEBHOOK, ALERT, "other", 1700000000)[1][SIGNATURE_HEADER] != headers[SIGNATURE_HEADER]


def test_without_a_secret_the_webhook_is_sent_unsigned() -> None:
    _, headers = request_body(WEBHOOK, ALERT, None, 1700000000)
    assert headers == {"Content-Type": "application/json"}


def test_a_slack_message_bolds_the_matches_and_escapes_the_rest() -> None:
    text = slack_text(ALERT)
    assert text.splitlines() == [
        "*sanctions*: EU &lt;b&gt;agrees&lt;/b&gt; sanctions &amp; curbs",
        'new &lt;tough&gt; *sanctions* on "tankers"',
        "_Herald · en, fr · 3 articles in this story_",
    ]
    body, headers = request_body(SLACK, ALERT, "secret", 1700000000)
    assert json.loads(body) == {"text": text} and SIGNATURE_HEADER not in headers


def test_listings_hide_a_chat_webhooks_path_and_a_webhooks_credentials() -> None:
    rule = Rule(name="r", query="q", webhook="https://hooks.example.org/a?token=1", slack=SLACK.url)
    assert [channel.kind for channel in rule.channels] == ["webhook", "slack"]
    listed = shown(rule)
    assert (listed.webhook, listed.slack) == ("https://hooks.example.org/a", "https://hooks.slack.com/…")


def test_a_mail_has_one_line_subject_whatever_the_title_and_links_only_to_the_web() -> None:
    hostile = ALERT.model_copy(update={"title": "Sanctions\r\nBcc: everyone@example.org", "url": "javascript:alert(1)"})
    message = mail_message(hostile, "alerts@example.org", "desk@example.org")
    assert message["Subject"] == "[newsstream] sanctions: Sanctions Bcc: everyone@example.org"
    assert message["Bcc"] is None and "javascript:" not in message.as_string()
    escaped = mail_message(ALERT, "alerts@example.org", "desk@example.org").get_body(preferencelist=("html",))
    assert "<h2>EU &lt;b&gt;agrees&lt;/b&gt; sanctions &amp; curbs</h2>" in escaped.get_content()
    linked = mail_message(ALERT.model_copy(update={"url": "https://news.example.org/a"}), "a@example.org", "b@example.org")
    assert 'href="https://news.example.org/a"' in linked.get_body(preferencelist=("html",)).get_content()
    assert slack_text(ALERT.model_copy(update={"url": "https://news.example.org/a"})).startswith(
        "*sanctions*: <https://news.example.org/a|EU &lt;b&gt;agrees")
