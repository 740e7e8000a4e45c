"""The sources file (TOML): one table per source under `[sources.NAME]`, read into `FeedSource`s."""
from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class SourcesError(Exception):
    """The sources file is missing, is not TOML, or describes a source wrongly."""


class FeedSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    url: str
    interval_s: float = Field(default=900.0, ge=1.0, description="seconds between two polls")
    language: str | None = Field(default=None, description="language hint (ISO 639-1) for the whole feed")
    full_text: bool = Field(default=False, description="fetch each entry's page and extract its text")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        return url.strip()

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


def load_sources(path: Path) -> list[FeedSource]:
    """Every source of the file, in file order. Raises SourcesError saying what is wrong and where."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourcesError(f"no sources file at {path} (start from feeds.example.toml)") from None
    except tomllib.TOMLDecodeError as error:
        raise SourcesError(f"{path}: not valid TOML: {error}") from None
    tables = document.get("sources")
    if not isinstance(tables, dict) or not tables:
        raise SourcesError(f"{path}: no [sources.NAME] tables")
    sources = []
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise SourcesError(f"{path}: sources.{name} must be a table")
        try:
            sources.append(FeedSource(name=name, **table))
        except (ValidationError, TypeError) as error:
            raise SourcesError(f"{path}: source {name!r}: {_reasons(error)}") from None
    return sources


def _reasons(error: ValidationError | TypeError) -> str:
    if isinstance(error, TypeError):
        return str(error)
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'source'}: {e['msg']}" for e in error.errors())
