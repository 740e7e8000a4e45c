"""What `stack status` reports for one service."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    version: str
    address: str
    up: bool

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "address": self.address,
                "status": "up" if self.up else "down"}
