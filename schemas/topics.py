"""The Kafka topics the product owns, declared once: the local stack, `newsstream setup`, the
measuring lanes and the Kubernetes manifests all create them from here. Names are settings
(`NEWSSTREAM_TOPIC_<ROLE>`); what each topic is stays here."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# The broker's message.max.bytes (deploy/) and the producers' request size match this.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class TopicSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: str  # the settings field is topic_<role>
    default_name: str
    description: str
    # None: the configured partition count (NEWSSTREAM_TOPIC_PARTITIONS); tables read in full need one.
    partitions: int | None = None
    compacted: bool = False
    retention_ms: int | None = None  # None: the broker's default (7 days)
    max_message_bytes: int = MAX_MESSAGE_BYTES

    def configs(self) -> dict[str, str]:
        """The topic-level configs, as Kafka names them."""
        configs = {"max.message.bytes": str(self.max_message_bytes)}
        if self.compacted:
            configs["cleanup.policy"] = "compact"
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
        return configs


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(role="raw", default_name="articles.raw", description="articles in, keyed by article id"),
    TopicSpec(role="deadletter", default_name="articles.deadletter",
              description="what could not be processed, with its reason and original bytes",
              retention_ms=30 * 24 * 3600 * 1000),
    TopicSpec(role="deadletter_replayed", default_name="articles.deadletter.replayed", partitions=1, compacted=True,
              description="dead letters already replayed (key = partition:offset), so a replay never repeats one"),
    TopicSpec(role="alerts", default_name="alerts", description="one message per new alert, keyed by alert id"),
    TopicSpec(role="rules", default_name="alerts.rules", partitions=1, compacted=True,
              description="alert rules keyed by name; an empty value removes the rule"),
    TopicSpec(role="feeds_seen", default_name="feeds.seen", partitions=1, compacted=True,
              description="feed entries already sent, keyed by normalised entry id"),
    TopicSpec(role="feeds_state", default_name="feeds.state", partitions=1, compacted=True,
              description="each feed source's last poll and HTTP validators, keyed by source name"),
)
