"""Undecodable record batches become placeholder records with their reason, not a crash."""
from __future__ import annotations

import struct

import pytest
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c
from aiokafka.structs import TopicPartition

from clients import undecodable

GZIP, LZ4 = 1, 3
CRC_AT, ATTRIBUTES_AT = 17, 21  # byte positions in a v2 batch header
PAYLOAD_AT = 61  # the records (compressed or not) follow the 61-byte header


def batch(values: list[bytes], codec: int, base_offset: int = 10) -> bytearray:
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=0, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    for delta, value in enumerate(values):
        builder.append(delta, timestamp=1_700_000_000_000, key=b"k%d" % delta, value=value,
                       headers=[("source", b"test")])
    built = builder.build()
    struct.pack_into(">q", built, 0, base_offset)
    return built


def with_crc(buffer: bytearray) -> bytearray:
    struct.pack_into(">I", buffer, CRC_AT, calc_crc32c(bytes(buffer[ATTRIBUTES_AT:])))
    return buffer


def read(buffer: bytes) -> list:
    tp = TopicPartition("articles.raw", 0)
    records = undecodable.GuardedPartitionRecords(tp, MemoryRecords(bytes(buffer)), [], 0, None, None, True, 0)
    return list(records)


def test_a_decodable_batch_reads_as_usual() -> None:
    records = read(batch([b'{"a": 1}', b'{"b": 2}'], GZIP))
    assert [(r.offset, r.key, r.value) for r in records] == [(10, b"k0", b'{"a": 1}'), (11, b"k1", b'{"b": 2}')]
    assert all(undecodable.undecodable_reason(r.headers) is None for r in records)


def test_a_batch_that_fails_to_decompress_gives_one_placeholder_per_offset() -> None:
    corrupt = batch([b"x" * 500, b"y" * 500, b"z" * 500], LZ4)
    corrupt[PAYLOAD_AT + 8:] = b"\xff" * (len(corrupt) - PAYLOAD_AT - 8)  # garbage after the lz4 frame header
    records = read(with_crc(corrupt))
    assert [r.offset for r in records] == [10, 11, 12]
    reason = undecodable.undecodable_reason(records[0].headers)
    assert reason and "offsets 10-12" in reason and "compression lz4" in reason
    assert all(r.value == b"" and r.key is None for r in records)


def test_a_batch_whose_crc_does_not_match_is_marked_not_refetched_forever() -> None:
    buffer = batch([b'{"a": 1}'], GZIP)
    buffer[-3] ^= 0xFF  # content changed, CRC left as it was
    (record,) = read(buffer)
    assert "CRC" in (undecodable.undecodable_reason(record.headers) or "")


def test_a_missing_codec_library_is_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiokafka import codec

    buffer = batch([b"text " * 100], LZ4)
    monkeypatch.setattr(codec, "cramjam", None)
    (record,) = read(buffer)
    reason = undecodable.undecodable_reason(record.headers) or ""
    assert "lz4" in reason


def test_install_swaps_the_fetchers_class() -> None:
    original = fetcher.PartitionRecords
    try:
        undecodable.install()
        undecodable.install()
        assert fetcher.PartitionRecords is undecodable.GuardedPartitionRecords
    finally:
        fetcher.PartitionRecords = original
