"""The one settings object, read from the environment (prefix ``NEWSSTREAM_``) by the entry points
only (the CLI commands, the API app, the worker) and handed down as the sections each part owns:
`stack` (deploy/), `kafka` and `elasticsearch` (clients/), `pipeline` (processors/), `feeds`
(ingest/feeds/), and the product's topics and indices by name."""
from __future__ import annotations

import hashlib
import os
import stat
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from clients.elasticsearch import ElasticsearchConfig
from clients.kafka import Compression, KafkaClientConfig
from clients.outbound import OutboundPolicy
from deploy.config import StackConfig
from ingest.feeds.config import FeedsConfig
from processors.config import DEFAULT_LANGUAGES, DEFAULT_SPACY_MODELS, MailConfig, PipelineConfig, StoryConfig
from schemas.indices import INDICES, IndexSpec
from schemas.topics import TOPICS, TopicSpec

if TYPE_CHECKING:
    from processors.rulebook import RulesConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# What `NEWSSTREAM_STACK_PROFILE=cluster` (or `stack up --profile cluster`) changes, for every field
# not set explicitly: three KRaft brokers and two Elasticsearch nodes on ports clear of the single-node
# stack's (so both can run at once), smaller heaps (five JVMs on one machine), and the product's
# topics and indices replicated across them.
CLUSTER_PROFILE: dict[str, Any] = {
    "kafka_brokers": 3,
    "elasticsearch_nodes": 2,
    "kafka_port": 19092,  # brokers on 19092, 19093, 19094
    "kafka_controller_port": 19192,
    "elasticsearch_port": 19200,  # nodes on 19200, 19201
    "elasticsearch_transport_port": 19300,
    "kafka_heap": "384m",
    "elasticsearch_heap": "768m",
    # 12 divides among 1, 2, 3, 4, 6 and 12 busy workers evenly.
    "topic_partitions": 12,
    "topic_replication_factor": 3,
    "topic_min_insync_replicas": 2,
    "index_replicas": 1,
}


def default_state_dir(checkout: Path = PROJECT_ROOT, euid: int | None = None) -> Path:
    """`.stack` in the checkout, unless we run as root in a checkout other users cannot traverse
    (e.g. under /root, mode 700): Elasticsearch runs as an unprivileged user and must reach it."""
    euid = os.geteuid() if euid is None else euid
    if euid != 0 or all(path.stat().st_mode & stat.S_IXOTH for path in (checkout, *checkout.parents)):
        return checkout / ".stack"
    return Path("/var/lib/newsstream") / hashlib.sha256(str(checkout).encode()).hexdigest()[:12]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSSTREAM_", frozen=True, extra="ignore")

    # Local stack (deploy/). "cluster": the replicated profile (CLUSTER_PROFILE), its nodes' files
    # under <state_dir>/cluster; the Maven-fetched distributions are shared.
    stack_profile: Literal["single", "cluster"] = "single"
    state_dir: Path = Field(default_factory=default_state_dir)
    kafka_brokers: int = Field(default=1, ge=1)
    elasticsearch_nodes: int = Field(default=1, ge=1)
    kafka_version: str = "4.1.1"
    elasticsearch_version: str = "9.2.0"
    # The first node's ports; further nodes take the next ones up.
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    elasticsearch_port: int = 9200
    elasticsearch_transport_port: int = 9300
    kafka_heap: str = "512m"
    elasticsearch_heap: str = "1g"
    java_home: Path | None = None
    stack_timeout_s: float = 120.0
    stack_stop_timeout_s: float = 30.0
    # Elasticsearch refuses to run as root; when started by root it runs as this system user.
    elasticsearch_system_user: str = "newsstream"

    # Clients; empty means "the local stack's addresses". Both take comma-separated lists.
    kafka_bootstrap_servers: str = ""
    elasticsearch_url: str = ""
    elasticsearch_api_key: SecretStr | None = None
    # What our producers compress with; consumers read every codec Kafka has whatever this says.
    kafka_compression: Compression = "zstd"

    # Topics and indices: the names; what they are is declared in schemas/topics.py and schemas/indices.py.
    topic_raw: str = "articles.raw"
    topic_deadletter: str = "articles.deadletter"
    topic_deadletter_replayed: str = "articles.deadletter.replayed"
    topic_alerts: str = "alerts"
    topic_rules: str = "alerts.rules"
    topic_feeds_seen: str = "feeds.seen"
    topic_feeds_state: str = "feeds.state"
    topic_partitions: int = 4
    topic_replication_factor: int = -1  # -1: the broker's default
    topic_min_insync_replicas: int | None = None  # None: the broker's default
    index_replicas: int | None = Field(default=None, ge=0)  # None: number_of_replicas of schemas/mappings/
    index_articles: str = "articles"
    index_alerts: str = "alerts"
    index_alert_deliveries: str = "alert-deliveries"
    index_alert_notifications: str = "alert-notifications"
    index_entities: str = "entities"
    index_entity_corrections: str = "entity-corrections"
    index_story_signatures: str = "story-signatures"
    # How often a worker reads the entity corrections again (`newsstream entities merge`/`split`).
    entity_corrections_refresh_s: float = Field(default=10.0, gt=0)
    # Articles further apart in time than this are never one story (nor copies of each other).
    story_window_hours: float = Field(default=72.0, gt=0)

    # Pipeline
    languages: str = ",".join(DEFAULT_LANGUAGES)
    spacy_models: str = ",".join(f"{lang}={package}" for lang, package in DEFAULT_SPACY_MODELS)
    max_body_bytes: int = 2 * 1024 * 1024
    # Entity linking: the gazetteer read (empty: the shipped knowledge/dist/gazetteer.jsonl.gz) and
    # the language of canonical entity names (the knowledge base's English names by default).
    knowledge_base: Path | None = None
    entity_name_language: str = "en"
    batch_size: int = 64
    batch_timeout_s: float = 0.2
    nlp_processes: int = 0  # 0: one per core
    # The Faust app id: also the consumer group, so two deployments on one cluster need two ids.
    worker_app_id: str = "newsstream-worker"

    # HTTP API (newsstream api)
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Writes (ingest, rules) need this key in the X-API-Key header; without one they are refused.
    api_key: SecretStr | None = None
    # When set, reads need it (or the write key) too; otherwise reads are open.
    api_read_key: SecretStr | None = None
    # Host headers the API answers (DNS rebinding); "*" allows any. Comma-separated.
    api_allowed_hosts: str = "localhost,127.0.0.1,::1"
    # A request body past this is refused with 413 while it streams in (0: 4 articles of the
    # maximum size and their JSON envelope).
    api_max_request_bytes: int = 0
    # When true, /healthz details, /metrics and /docs need the read key too (/livez stays open).
    api_protect_operations: bool = False
    api_max_stream_clients: int = 200  # live alert streams (SSE) at once
    api_limit_concurrency: int = 500  # connections and tasks at once, past it uvicorn answers 503
    api_keep_alive_timeout_s: float = 5.0

    # Signs each alert webhook's body (HMAC-SHA256, headers X-Newsstream-Timestamp and
    # X-Newsstream-Signature; README "Alerts"). Unset: webhooks are sent unsigned.
    webhook_secret: SecretStr | None = None

    # The mail server for rules' email channels (README "Alerts"); unset: email channels fail, saying so.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True  # false only for a relay on a trusted network (port 25)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "newsstream@localhost"
    smtp_timeout_s: float = 10.0
    # How often each worker checks for due digests and for throttled rules' held alerts.
    digest_tick_s: float = Field(default=30.0, gt=0)

    # Outbound requests (webhooks, mail, feeds): internal addresses are refused unless listed here,
    # comma-separated hosts, addresses or networks, optionally with a port ("10.1.2.3", "hooks.internal:8443").
    outbound_allow: str = ""
    outbound_timeout_s: float = 10.0
    outbound_max_response_bytes: int = 10 * 1024 * 1024

    # Live feeds (ingest/feeds/)
    feeds_sources: Path = PROJECT_ROOT / "feeds.toml"
    feeds_user_agent: str = "newsstream/0.1 (+https://example.org/newsstream)"
    feeds_timeout_s: float = 20.0
    feeds_retries: int = 2  # further tries after a 5xx, 429, timeout or refused connection
    feeds_backoff_s: float = 2.0  # the first retry's wait; each further retry doubles it
    feeds_host_interval_s: float = 1.0  # at least this long between two requests to one host
    feeds_max_response_bytes: int = 10 * 1024 * 1024

    @model_validator(mode="after")
    def _apply_profile_and_derive_client_addresses(self) -> "Settings":
        if self.stack_profile == "cluster":
            for name, value in CLUSTER_PROFILE.items():
                if name not in self.model_fields_set:
                    object.__setattr__(self, name, value)
        if not self.kafka_bootstrap_servers:
            object.__setattr__(self, "kafka_bootstrap_servers", ",".join(
                f"localhost:{self.kafka_port + node}" for node in range(self.kafka_brokers)))
        if not self.elasticsearch_url:
            object.__setattr__(self, "elasticsearch_url", ",".join(
                f"http://localhost:{self.elasticsearch_port + node}" for node in range(self.elasticsearch_nodes)))
        return self

    # --- the sections handed down -------------------------------------------------------------

    @property
    def stack(self) -> StackConfig:
        return StackConfig(**{name: getattr(self, name) for name in StackConfig.__dataclass_fields__})

    @property
    def kafka(self) -> KafkaClientConfig:
        return KafkaClientConfig(self.kafka_bootstrap_servers, compression=self.kafka_compression)

    @property
    def elasticsearch(self) -> ElasticsearchConfig:
        return ElasticsearchConfig(self.elasticsearch_url, api_key=self.elasticsearch_api_key)

    @property
    def pipeline(self) -> PipelineConfig:
        return PipelineConfig(languages=self.language_set, spacy_models=tuple(self.spacy_model_map.items()),
                              max_body_bytes=self.max_body_bytes, nlp_batch_size=self.batch_size,
                              knowledge_base=self.knowledge_base, entity_name_language=self.entity_name_language)

    @property
    def stories(self) -> StoryConfig:
        return StoryConfig(window=timedelta(hours=self.story_window_hours))

    @property
    def mail(self) -> MailConfig | None:
        if not self.smtp_host:
            return None
        return MailConfig(host=self.smtp_host, port=self.smtp_port, starttls=self.smtp_starttls, user=self.smtp_user,
                          password=self.smtp_password.get_secret_value() if self.smtp_password else None,
                          sender=self.smtp_from, timeout_s=self.smtp_timeout_s)

    @property
    def feeds(self) -> FeedsConfig:
        return FeedsConfig(
            kafka=self.kafka, topic_raw=self.topic_raw, topic_seen=self.topic_feeds_seen,
            topic_state=self.topic_feeds_state, user_agent=self.feeds_user_agent, timeout_s=self.feeds_timeout_s,
            retries=self.feeds_retries, backoff_s=self.feeds_backoff_s, host_interval_s=self.feeds_host_interval_s,
            max_response_bytes=self.feeds_max_response_bytes, outbound=self.outbound)

    @property
    def rules(self) -> RulesConfig:
        from processors.rulebook import RulesConfig  # the rule engine loads only where rules are used

        return RulesConfig(kafka=self.kafka, topic=self.topic_rules, languages=self.language_set,
                           outbound=self.outbound)

    @property
    def topics(self) -> dict[str, TopicSpec]:
        """The product's topics by their configured names."""
        return {getattr(self, f"topic_{spec.role}"): spec for spec in TOPICS}

    @property
    def indices(self) -> dict[str, IndexSpec]:
        """The product's indices by their configured names."""
        return {getattr(self, f"index_{spec.role}"): spec for spec in INDICES}

    @property
    def outbound(self) -> OutboundPolicy:
        allow = tuple(item.strip() for item in self.outbound_allow.split(",") if item.strip())
        return OutboundPolicy(allow=allow, timeout_s=self.outbound_timeout_s,
                              max_response_bytes=self.outbound_max_response_bytes)

    @property
    def api_request_limit(self) -> int:
        return self.api_max_request_bytes or 4 * self.max_body_bytes + 64 * 1024

    @property
    def api_hosts(self) -> list[str]:
        return [host.strip() for host in self.api_allowed_hosts.split(",") if host.strip()]

    @property
    def language_set(self) -> tuple[str, ...]:
        return tuple(code.strip() for code in self.languages.split(",") if code.strip())

    @property
    def spacy_model_map(self) -> dict[str, str]:
        pairs = (item.split("=", 1) for item in self.spacy_models.split(",") if "=" in item)
        return {lang.strip(): name.strip() for lang, name in pairs}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
