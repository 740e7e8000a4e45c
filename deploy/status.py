"""What `stack status` reports for one node of a service."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceStatus:
    service: str  # kafka or elasticsearch
    name: str  # the node
    version: str
    address: str
    up: bool
    role: str = ""
    # The health of the node's cluster as the service reports it (the same for all its nodes).
    health: str = ""

    def as_json(self) -> dict[str, str]:
        return {"service": self.service, "name": self.name, "version": self.version, "address": self.address,
                "status": "up" if self.up else "down", "role": self.role, "health": self.health}
