"""The compacted-topic table on the real Kafka of the local stack."""
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient

from ingest.feeds.seen import SeenRecord, SeenSet
from clients.kafka import CompactedTable, KafkaClientConfig, TableError

pytestmark = pytest.mark.integration


@pytest.fixture
def compacted_topic(kafka_bootstrap: str) -> Iterator[str]:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    topic = f"test-feeds-table-{uuid.uuid4().hex[:8]}"
    admin.create_topics({topic: {"num_partitions": 1, "configs": {"cleanup.policy": "compact"}}}, wait_for_metadata=True)
    yield topic
    admin.delete_topics([topic])
    admin.close()


def test_the_table_reads_back_the_latest_value_of_each_key(kafka_bootstrap: str, compacted_topic: str) -> None:
    writer = CompactedTable(KafkaClientConfig(kafka_bootstrap), compacted_topic)
    writer.put({"a": b"1", "b": b"2", "c": b"3"})
    writer.put({"a": b"1 again"})
    writer.close()
    tombstone = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    tombstone.send(compacted_topic, key=b"c", value=None).get(timeout=30)  # how an operator forgets a key
    tombstone.close()
    assert CompactedTable(KafkaClientConfig(kafka_bootstrap), compacted_topic).read_all() == {"a": b"1 again", "b": b"2"}


def test_a_restarted_seen_set_knows_what_the_last_one_added(kafka_bootstrap: str, compacted_topic: str) -> None:
    table = CompactedTable(KafkaClientConfig(kafka_bootstrap), compacted_topic)
    SeenSet(table).add({"https://news.example/1": SeenRecord(source="wire", url="https://news.example/1")})
    table.close()
    restarted = SeenSet(CompactedTable(KafkaClientConfig(kafka_bootstrap), compacted_topic))
    assert "https://news.example/1" in restarted and len(restarted) == 1


def test_a_missing_topic_says_how_to_create_it(kafka_bootstrap: str) -> None:
    with pytest.raises(TableError, match=r"topic test-feeds-absent does not exist .*newsstream setup"):
        CompactedTable(KafkaClientConfig(kafka_bootstrap), "test-feeds-absent").read_all()
