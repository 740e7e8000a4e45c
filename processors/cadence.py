"""When a rule's held matches go out (pure): a digest's due times in its time zone, a throttled
rule's clock hour. Every time is an aware datetime; what is returned is in UTC."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from schemas.alerts import Digest, Rule

# A rule whose cadence was removed while matches were held sends them without a limit.
UNTHROTTLED = 1000


def _at(digest: Digest) -> time:
    hour, minute = digest.at.split(":")
    return time(int(hour), int(minute))


def last_due(digest: Digest, now: datetime) -> datetime:
    """The latest due time at or before `now`: matches made before it belong to its digest."""
    zone, at = ZoneInfo(digest.tz), _at(digest)
    if digest.every == "hour":
        # The local minute, found in UTC: a zone's offset may have minutes (India, Nepal).
        start = now.astimezone(timezone.utc).replace(second=0, microsecond=0)
        return next(t for t in (start - timedelta(minutes=back) for back in range(61))
                    if t.astimezone(zone).minute == at.minute)
    local = now.astimezone(zone)
    day = local.date() if local.time().replace(tzinfo=None) >= at else local.date() - timedelta(days=1)
    # A wall time a clock change skips (02:30 on a spring-forward night) maps to the instant after it.
    return datetime.combine(day, at, tzinfo=zone).astimezone(timezone.utc)


def next_due(digest: Digest, now: datetime) -> datetime:
    """The next digest after `now` (for listings)."""
    if digest.every == "hour":
        return last_due(digest, now) + timedelta(hours=1)
    local_due = last_due(digest, now).astimezone(ZoneInfo(digest.tz))
    return datetime.combine(local_due.date() + timedelta(days=1), _at(digest),
                            tzinfo=ZoneInfo(digest.tz)).astimezone(timezone.utc)


def hour_start(now: datetime) -> datetime:
    """A throttled rule's limit counts messages per clock hour (UTC)."""
    return now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def is_held(rule: Rule) -> bool:
    """Whether the rule's matches wait for a digest or a throttled message, rather than going out
    one by one as they happen."""
    return rule.digest is not None or rule.throttle is not None


def describe(rule: Rule) -> str:
    """The cadence as listings show it."""
    if rule.digest is not None:
        when = f"daily at {rule.digest.at}" if rule.digest.every == "day" else f"hourly at :{rule.digest.at[3:]}"
        return f"digest {when} {rule.digest.tz}"
    if rule.throttle is not None:
        return f"at most {rule.throttle}/hour"
    return "as it happens"
