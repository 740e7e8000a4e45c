"""`newsstream deadletter replay` on the real stack: the largest valid message goes back, a failed
delivery is reported, and a replay never repeats a letter unless asked."""
from __future__ import annotations

import orjson
import pytest

from clients.kafka import make_producer, read_topic
from schemas import DeadLetter
from tests.integration.conftest import service  # noqa: F401 - a fixture

pytestmark = pytest.mark.integration


def put_dead_letter(service, payload: bytes, stage: str = "entities") -> None:  # noqa: ANN001
    letter = DeadLetter.from_bytes(payload, stage=stage, error="a bug, since fixed", key="big-1")
    producer = make_producer(service.settings.kafka)
    producer.send(service.settings.topic_deadletter, value=letter.model_dump_json().encode()).get(timeout=30)
    producer.close()


def said(done) -> str:  # noqa: ANN001 - the console wraps long lines
    return " ".join(done.stderr.decode().split())


def raw_values(service) -> list[bytes]:  # noqa: ANN001
    return [record.value for record in read_topic(service.settings.kafka, service.settings.topic_raw)]


def test_a_two_megabyte_message_is_replayed_once_and_again_only_when_asked(service) -> None:  # noqa: ANN001
    payload = orjson.dumps({"title": "Big", "body": "Word " * (2 * 1024 * 1024 // 5)})  # a 2 MB body
    assert len(payload) > 2 * 1024 * 1024
    put_dead_letter(service, payload)
    done = service.cli("deadletter", "replay", "--stage", "entities")
    assert done.returncode == 0, done.stderr.decode()
    assert "replayed 1 message(s)" in said(done)
    assert raw_values(service) == [payload]
    again = service.cli("deadletter", "replay")
    assert "replayed 0 message(s)" in said(again) and "1 skipped as replayed before" in said(again)
    assert len(raw_values(service)) == 1
    forced = service.cli("deadletter", "replay", "--again")
    assert forced.returncode == 0 and len(raw_values(service)) == 2


def test_a_failed_delivery_is_reported_and_the_exit_status_says_so(service) -> None:  # noqa: ANN001
    put_dead_letter(service, b'{"title": "t", "body": "b"}', stage="validate")
    env = {**service.env, "NEWSSTREAM_TOPIC_RAW": "test-deadletter-absent-topic"}  # auto-create is off
    done = service.cli_with_env(env, "deadletter", "replay", "--stage", "validate", timeout=120)
    assert done.returncode == 1
    assert "not replayed" in said(done) and "1 failed" in said(done)
