"""What one poll of one source did: `PollReport`, printed by the CLI and kept as the source's state."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

# Per-entry problems kept in a report; past this many only the count grows.
MAX_WARNINGS = 20


class PollReport(BaseModel):
    source: str
    url: str
    polled_at: datetime
    duration_s: float = 0.0
    status: int | None = None  # the feed request's HTTP status; None when no answer came
    not_modified: bool = False  # a 304: the feed is unchanged since the last poll, nothing parsed
    entries: int = 0  # in the feed
    new: int = 0  # not seen before
    already_seen: int = 0
    sent: int = 0  # produced to articles.raw (and remembered as seen)
    extracted: int = 0  # of those sent, the body came from the article's page
    fallbacks: int = 0  # of those sent, page extraction failed and the body is the feed's summary
    without_text: int = 0  # new entries with no text anywhere: not sent, tried again next poll
    error: str | None = None  # the source failed: fetching, parsing or producing
    warnings: list[str] = Field(default_factory=list)  # per-entry problems (the first MAX_WARNINGS)
    warning_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def warn(self, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)

    def summary(self) -> str:
        """One line for a terminal."""
        if self.error:
            return f"{self.source}: FAILED ({self.error})"
        if self.not_modified:
            return f"{self.source}: unchanged (304)"
        line = f"{self.source}: {self.entries} entries, {self.new} new, sent {self.sent}"
        if self.extracted or self.fallbacks:
            line += f" ({self.extracted} with their page's text, {self.fallbacks} with the feed's summary)"
        if self.without_text:
            line += f", {self.without_text} without text"
        if self.warning_count:
            line += f", {self.warning_count} warning(s)"
        return line
