"""The feed poller's configuration section: what `Settings` hands to `ingest/feeds/`."""
from __future__ import annotations

from dataclasses import dataclass

from clients.kafka import KafkaClientConfig
from clients.outbound import OutboundPolicy


@dataclass(frozen=True)
class FeedsConfig:
    kafka: KafkaClientConfig
    topic_raw: str
    topic_seen: str  # compacted: the entries already sent (key = normalised entry id)
    topic_state: str  # compacted: each source's last poll and HTTP validators
    user_agent: str
    timeout_s: float
    retries: int  # further tries after a 5xx, 429, timeout or refused connection
    backoff_s: float  # the first retry's wait; each further retry doubles it
    host_interval_s: float  # at least this long between two requests to one host
    max_response_bytes: int
    outbound: OutboundPolicy  # where feeds and their entries' links may be fetched from
