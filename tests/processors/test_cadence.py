"""When held matches go out: a digest's due times in its time zone (clock changes, zones with
minute offsets) and a throttled rule's clock hour; a rule has one cadence."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from processors.cadence import describe, hour_start, last_due, next_due
from schemas.alerts import Digest, Rule

UTC = timezone.utc


def test_a_daily_digest_is_due_at_its_local_time_in_winter_and_in_summer() -> None:
    paris = Digest(every="day", at="08:00", tz="Europe/Paris")
    assert last_due(paris, datetime(2026, 12, 3, 7, 30, tzinfo=UTC)) == datetime(2026, 12, 3, 7, tzinfo=UTC)
    assert last_due(paris, datetime(2026, 12, 3, 6, 59, tzinfo=UTC)) == datetime(2026, 12, 2, 7, tzinfo=UTC)
    assert next_due(paris, datetime(2026, 12, 3, 7, 30, tzinfo=UTC)) == datetime(2026, 12, 4, 7, tzinfo=UTC)
    assert last_due(paris, datetime(2026, 7, 1, 12, tzinfo=UTC)) == datetime(2026, 7, 1, 6, tzinfo=UTC)


def test_a_digest_at_a_time_the_clock_skips_goes_out_just_after_the_change() -> None:
    # 29 March 2026, Paris: 02:00 becomes 03:00, so 02:30 does not exist that night.
    night = Digest(every="day", at="02:30", tz="Europe/Paris")
    assert last_due(night, datetime(2026, 3, 29, 12, tzinfo=UTC)) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert next_due(night, datetime(2026, 3, 29, 12, tzinfo=UTC)) == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)


def test_an_hourly_digest_is_due_at_its_local_minute_even_in_a_half_hour_zone() -> None:
    kolkata = Digest(every="hour", at="00:15", tz="Asia/Kolkata")  # UTC+05:30: local :15 is UTC :45
    assert last_due(kolkata, datetime(2026, 12, 3, 10, 0, tzinfo=UTC)) == datetime(2026, 12, 3, 9, 45, tzinfo=UTC)
    assert next_due(kolkata, datetime(2026, 12, 3, 10, 0, tzinfo=UTC)) == datetime(2026, 12, 3, 10, 45, tzinfo=UTC)
    hourly = Digest(every="hour", at="00:00")
    assert last_due(hourly, datetime(2026, 12, 3, 10, 0, tzinfo=UTC)) == datetime(2026, 12, 3, 10, tzinfo=UTC)


def test_a_throttled_rule_counts_per_clock_hour() -> None:
    assert hour_start(datetime(2026, 12, 3, 10, 59, 59, tzinfo=UTC)) == datetime(2026, 12, 3, 10, tzinfo=UTC)


def test_a_rule_has_one_cadence_and_a_real_time_zone() -> None:
    assert describe(Rule(name="r", query="q")) == "as it happens"
    assert describe(Rule(name="r", query="q", throttle=5)) == "at most 5/hour"
    assert describe(Rule(name="r", query="q", digest=Digest(every="day", at="07:30", tz="Europe/Berlin"))) == \
        "digest daily at 07:30 Europe/Berlin"
    with pytest.raises(ValidationError, match="throttled or sends digests, not both"):
        Rule(name="r", query="q", throttle=5, digest=Digest(every="hour"))
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        Digest(every="day", tz="Mars/Olympus")
    with pytest.raises(ValidationError):
        Digest(every="day", at="24:00")
