"""Alert rules as analysts register them (`Rule`) and what a match produces (`Alert`)."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator


# One @, no spaces or angle brackets, a dot in the domain: what a header can carry safely.
_MAIL_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def alert_id(rule_name: str, story_id: str) -> str:
    """The same (rule, story) pair always gets the same id, so a story alerts once and a replayed
    article never alerts again (an article in no story is a story of its own: its id)."""
    return hashlib.sha256(f"{rule_name}\x1f{story_id}".encode("utf-8")).hexdigest()[:24]


class Digest(BaseModel):
    """A rule's matches sent together, one message per channel: every hour at `at`'s minute, or
    every day at `at`, in the time zone `tz` (an IANA name: Europe/Paris)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    every: Literal["hour", "day"]
    at: str = Field(default="08:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    tz: str = Field(default="UTC", max_length=64)

    @field_validator("tz")
    @classmethod
    def _is_known_zone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r} (an IANA name such as Europe/Paris or UTC)") from None
        return tz


class Rule(BaseModel):
    """A watched query (Lucene-like syntax, see `processors.alerts`) with optional filters."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Every field is bounded, so a rule that passes validation always fits its topic message.
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9 _.-]+$")
    query: str = Field(min_length=1, max_length=1000)
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    # An entity id, or a name matched in any of its spellings; a name the knowledge base knows is
    # saved as its id, with the name it resolved to beside it.
    entity: str | None = Field(default=None, min_length=1, max_length=200)
    entity_name: str | None = Field(default=None, max_length=200)
    source: str | None = Field(default=None, min_length=1, max_length=200)
    webhook: str | None = Field(default=None, max_length=2000)  # JSON of the alert, signed (see README)
    slack: str | None = Field(default=None, max_length=2000)  # a Slack or Mattermost incoming webhook
    # Mailboxes, through the configured mail server (NEWSSTREAM_SMTP_*).
    email: list[str] = Field(default_factory=list, max_length=20)
    # How often channels hear of matches: as they happen (the default), at most `throttle` messages
    # per channel in each clock hour (the rest held and listed in the next), or in digests.
    throttle: int | None = Field(default=None, ge=1, le=1000)
    digest: Digest | None = None
    created_at: datetime = Field(default_factory=_utcnow)

    @field_validator("name")
    @classmethod
    def _name_is_addressable(cls, name: str) -> str:
        if name.strip(".") == "":
            raise ValueError("a name made of dots cannot be addressed in a URL path")
        return name

    @field_validator("webhook", "slack")
    @classmethod
    def _is_http_url(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{info.field_name} must be an http:// or https:// URL with a host")
            if parts.username is not None or parts.password is not None:
                raise ValueError(f"{info.field_name} must not carry a user or password (user:password@); "
                                 "put the receiver's token in its path instead")
        return url

    @field_validator("email")
    @classmethod
    def _are_mail_addresses(cls, addresses: list[str]) -> list[str]:
        for address in addresses:
            if len(address) > 254 or not _MAIL_ADDRESS.fullmatch(address):
                raise ValueError(f"{address!r} is not a mail address (name@example.org)")
        return list(dict.fromkeys(addresses))

    @model_validator(mode="after")
    def _one_cadence(self) -> Rule:
        if self.throttle is not None and self.digest is not None:
            raise ValueError("a rule is throttled or sends digests, not both")
        return self

    @property
    def channels(self) -> list[Channel]:
        """Where its alerts are delivered besides the alerts topic and index."""
        return ([Channel(kind=kind, url=url) for kind, url in (("webhook", self.webhook), ("slack", self.slack)) if url]
                + [Channel(kind="email", url=f"mailto:{address}") for address in self.email])


class Channel(BaseModel):
    """One delivery target of a rule: `webhook` gets the alert as JSON, `slack` a chat message."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["webhook", "slack", "email"]
    url: str  # mailto:name@example.org for email

    @property
    def address(self) -> str:
        """The mailbox of an email channel."""
        return self.url.removeprefix("mailto:")


class Alert(BaseModel):
    """A rule's match on a story: delivered for its first matching article; later matching copies
    and articles of the story are added to it (`article_ids`, `sources`, `languages`), not delivered."""

    id: str
    rule: str
    article_id: str  # the first matching article, which the title, snippet and terms are of
    story_id: str | None = None
    title: str
    language: str
    matched_terms: list[str]
    snippet: str  # HTML-escaped text, matched words wrapped in <mark>
    published_at: datetime | None = None
    matched_at: datetime = Field(default_factory=_utcnow)
    source: str | None = None
    url: str | None = None  # the first matching article's
    article_ids: list[str] = Field(default_factory=list)  # every matching article, first first (capped)
    article_count: int = 1
    sources: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    last_matched_at: datetime | None = None


def delivery_id(alert: str, channel: Channel) -> str:
    """One delivery per (alert, channel): an alert id is per (rule, story) already."""
    return hashlib.sha256(f"{alert}\x1f{channel.kind}\x1f{channel.url}".encode("utf-8")).hexdigest()[:24]


def channel_id(channel: Channel) -> str:
    """Names a channel in the delivery log without its URL (a chat webhook's path is its secret)."""
    return hashlib.sha256(f"{channel.kind}\x1f{channel.url}".encode("utf-8")).hexdigest()[:16]


def notification_id(rule: str, channel: Channel, period: datetime, slot: int = 0) -> str:
    """One message per (rule, channel, period, slot): a digest's period, or a throttled rule's clock
    hour and its n-th message in it. Created before sending, so no two workers send the same one."""
    return hashlib.sha256(f"{rule}\x1f{channel_id(channel)}\x1f{period.isoformat()}\x1f{slot}".encode()).hexdigest()[:24]


class Delivery(BaseModel):
    """One alert sent to one channel, as the delivery log keeps it: created before the first
    attempt (so a replay or a restart never sends it again), then updated at each attempt."""

    id: str
    alert_id: str
    rule: str
    channel: Literal["webhook", "slack", "email"]
    target: str  # the channel's URL as listings show it (no credentials, no chat webhook path)
    # held: waiting for its rule's next digest or throttled message (`notification` once taken).
    status: Literal["held", "sending", "retrying", "sent", "failed"]
    channel_id: str | None = None  # `channel_id(channel)`: finds a channel's held deliveries
    notification: str | None = None  # the digest or throttled message it went out in
    attempts: int = 0
    reason: str | None = None  # the last failure: "HTTP 500", "ConnectTimeout", the guard's refusal
    matched_at: datetime  # when the alert was made: latency is from here
    created_at: datetime = Field(default_factory=_utcnow)
    updated_at: datetime = Field(default_factory=_utcnow)
    latency_ms: float | None = None  # matched to delivered, once sent


class Notification(BaseModel):
    """One message that listed several alerts of a rule (a digest, or a throttled rule's message
    with what was held), as the notifications log keeps it: created before sending."""

    id: str  # notification_id(...)
    rule: str
    channel: Literal["webhook", "slack", "email"]
    target: str
    kind: Literal["digest", "throttled"]
    period: datetime  # the digest's due time, or the start of the throttled message's clock hour
    alert_ids: list[str]
    status: Literal["sending", "sent", "failed"]
    reason: str | None = None
    created_at: datetime = Field(default_factory=_utcnow)
    updated_at: datetime = Field(default_factory=_utcnow)
