"""Each source's poll state, durable in the compacted topic `feeds.state` (key = source name): the
HTTP validators for the next conditional GET, and the last poll's report for `feeds status`.

A topic rather than a file under state_dir: it lives where the seen-set lives, so the two cannot
drift apart, and any machine that reaches Kafka (a cron host, an operator's laptop) sees the same state.
"""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from ingest.feeds.fetch import Validators
from ingest.feeds.report import PollReport
from clients.kafka import CompactedTable


class SourceState(BaseModel):
    source: str
    url: str = ""  # the feed URL the validators belong to
    validators: Validators = Field(default_factory=Validators)
    last_report: PollReport | None = None
    last_success_at: datetime | None = None  # the last poll that fetched the feed (200 or 304)


class SourceStates:
    """All sources' states, read from the table once and written through on every save."""

    def __init__(self, table: CompactedTable) -> None:
        self._table = table
        self._states = {name: SourceState.model_validate_json(value) for name, value in table.read_all().items()}

    def get(self, source: str) -> SourceState:
        return self._states.get(source) or SourceState(source=source)

    def all(self) -> list[SourceState]:
        return sorted(self._states.values(), key=lambda state: state.source)

    def save(self, state: SourceState) -> None:
        self._table.put({state.source: state.model_dump_json().encode()})
        self._states[state.source] = state
