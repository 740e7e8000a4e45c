"""A message that could not be processed, kept with its original bytes and the reason."""
from __future__ import annotations

import base64
from datetime import datetime, timezone

from pydantic import BaseModel, Field


class DeadLetter(BaseModel):
    stage: str  # validate, clean, language, entities, index, ...
    error: str
    payload_b64: str  # the original message bytes, untouched
    key: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    failed_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))

    @classmethod
    def from_bytes(cls, payload: bytes, *, stage: str, error: str, **where: object) -> "DeadLetter":
        return cls(stage=stage, error=error, payload_b64=base64.b64encode(payload).decode(), **where)

    @property
    def payload(self) -> bytes:
        return base64.b64decode(self.payload_b64)
