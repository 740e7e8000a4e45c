"""The local stack's own configuration section: what `Settings` hands to `deploy/`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path
    kafka_version: str
    elasticsearch_version: str
    kafka_port: int
    kafka_controller_port: int
    elasticsearch_port: int
    elasticsearch_transport_port: int
    kafka_heap: str
    elasticsearch_heap: str
    java_home: Path | None
    stack_timeout_s: float
    stack_stop_timeout_s: float
    # Elasticsearch refuses to run as root; when started by root it runs as this system user.
    elasticsearch_system_user: str
