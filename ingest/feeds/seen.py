"""The entries already sent, durable in the compacted topic `feeds.seen` (key = normalised entry id,
see parse.entry_key), so that a restarted poller sends none of them again."""
from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel, Field

from clients.kafka import CompactedTable


class SeenRecord(BaseModel):
    """The value stored with a key: not needed to deduplicate, but says where and when."""

    source: str
    url: str | None = None
    seen_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


class SeenSet:
    """Every key in the table, read once; `add` writes through before it remembers."""

    def __init__(self, table: CompactedTable) -> None:
        self._table = table
        self._keys = set(table.read_all())

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, records: dict[str, SeenRecord]) -> None:
        self._table.put({key: record.model_dump_json().encode() for key, record in records.items()})
        self._keys.update(records)
