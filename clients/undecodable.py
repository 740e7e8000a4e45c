"""Record batches that the consumer cannot decode become marked placeholder records, not a crash.

aiokafka decodes a batch lazily while the application iterates it; a batch compressed with a codec
whose library is missing, or one that is corrupt, raises inside Faust's fetcher, which crashes the
worker, and the batch is fetched again on every restart. aiokafka has no hook for this, so
`install()` swaps the fetcher's `PartitionRecords` for a subclass that wraps each batch: when
checking or decoding it fails, the batch yields one placeholder record per offset it covers, with
the reason in the `UNDECODABLE_HEADER` header and an empty value. The consumer then dead-letters
those offsets with their reason and moves on.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka.consumer import fetcher

UNDECODABLE_HEADER = "newsstream-undecodable"
_CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


@dataclass(frozen=True)
class _Placeholder:
    """What the fetcher reads of a record, for an offset whose batch could not be decoded."""

    offset: int
    timestamp: int
    reason: str
    timestamp_type: int = 0
    key: bytes | None = None
    value: bytes = b""
    checksum: int | None = None

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        return [(UNDECODABLE_HEADER, self.reason.encode())]


class _GuardedBatch:
    def __init__(self, batch: Any) -> None:
        self._batch = batch
        self._failure: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def validate_crc(self) -> bool:
        # A bad CRC makes aiokafka raise and re-fetch the same batch forever; mark it instead.
        if not self._batch.validate_crc():
            self._failure = "the record batch's CRC does not match its content"
        return True

    def __next__(self) -> Any:  # control batches are read with next()
        return next(self._batch)

    def __iter__(self) -> Iterator[Any]:
        if self._failure is None:
            try:
                records = list(self._batch)
            except Exception as error:  # noqa: BLE001 - any decode failure is this batch's, not the worker's
                self._failure = f"{type(error).__name__}: {error}"
            else:
                yield from records
                return
        yield from self._placeholders(self._failure)

    def _placeholders(self, failure: str) -> Iterator[_Placeholder]:
        batch = self._batch
        codec = _CODECS.get(batch.compression_type, f"unknown codec {batch.compression_type}")
        reason = (f"undecodable record batch (offsets {batch.base_offset}-{batch.next_offset - 1}, "
                  f"compression {codec}): {failure}")
        for offset in range(batch.base_offset, batch.next_offset):
            yield _Placeholder(offset=offset, timestamp=batch.max_timestamp, reason=reason)


class _GuardedRecords:
    def __init__(self, records: Any) -> None:
        self._records = records

    def has_next(self) -> bool:
        return self._records.has_next()

    def next_batch(self) -> _GuardedBatch | None:
        batch = self._records.next_batch()
        return None if batch is None else _GuardedBatch(batch)


class GuardedPartitionRecords(fetcher.PartitionRecords):
    def __init__(self, tp: Any, records: Any, *args: Any) -> None:
        super().__init__(tp, _GuardedRecords(records), *args)


def install() -> None:
    """Makes every aiokafka consumer of this process guard its batches; safe to call again."""
    fetcher.PartitionRecords = GuardedPartitionRecords  # type: ignore[misc]


def undecodable_reason(headers: Any) -> str | None:
    """The reason a record is a placeholder for an undecodable batch, or None for a real record."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for key, value in pairs:
        if key == UNDECODABLE_HEADER:
            return bytes(value).decode("utf-8", "replace")
    return None
