"""The local stack's own configuration section: what `Settings` hands to `deploy/`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path
    # "single" (one broker, one node) or "cluster"; a cluster's nodes keep their files in a directory
    # of their own, so both can run at once from one state dir (and share its downloads).
    stack_profile: str
    kafka_brokers: int
    elasticsearch_nodes: int
    kafka_version: str
    elasticsearch_version: str
    # The first node's ports; node n (from 0) listens on port + n.
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

    @property
    def profile_dir(self) -> Path:
        """Where this profile's nodes keep their config, data, logs and pid files."""
        return self.state_dir if self.stack_profile == "single" else self.state_dir / self.stack_profile
