"""The real local stack: messages through Kafka, documents through Elasticsearch, status, down and up.

The down-and-up test comes last and leaves the stack up for the test modules that run after this one.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import KafkaTimeoutError
from typer.testing import CliRunner

from deploy import stack as local_stack
from deploy.probes import port_open
from newsstream.cli.stack import stack_app
from newsstream.provision import provision
from newsstream.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def admin(kafka_bootstrap: str) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    yield client
    client.close()


@pytest.fixture
def temporary_topic(admin: KafkaAdminClient) -> Iterator[str]:
    topic = f"test-stack-{uuid.uuid4().hex[:8]}"
    admin.create_topics({topic: {"num_partitions": 1}}, wait_for_metadata=True)
    yield topic
    admin.delete_topics([topic])


def test_a_message_goes_through_kafka(kafka_bootstrap: str, temporary_topic: str) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(temporary_topic, key=b"id-1", value=b'{"title": "hello"}').get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(
        temporary_topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=30_000
    )
    try:
        received = next(iter(consumer))
    finally:
        consumer.close()
    assert (received.key, received.value) == (b"id-1", b'{"title": "hello"}')


def test_the_declared_topics_exist_and_provisioning_is_idempotent(stack: Settings, admin: KafkaAdminClient) -> None:
    partitions = {topic["name"]: len(topic["partitions"]) for topic in admin.describe_topics()}
    for topic in (stack.topic_raw, stack.topic_deadletter, stack.topic_alerts):
        assert partitions[topic] == stack.topic_partitions
    assert partitions[stack.topic_rules] == 1
    configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, stack.topic_rules)])
    assert configs["topic"][stack.topic_rules]["cleanup.policy"]["value"] == "compact"
    assert provision(stack).topics_created == []


def test_auto_topic_creation_is_off(kafka_bootstrap: str, admin: KafkaAdminClient) -> None:
    absent = f"test-stack-absent-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_block_ms=2000)
    try:
        with pytest.raises(KafkaTimeoutError, match="Failed to update metadata"):
            producer.send(absent, b"x").get(timeout=5)
    finally:
        producer.close(timeout=5)
    assert absent not in admin.list_topics()


def test_a_document_is_indexed_and_found(es_client: Elasticsearch) -> None:
    index = f"test-stack-{uuid.uuid4().hex[:8]}"
    try:
        es_client.index(index=index, id="a1", document={"title": "Leopard tanks for Kiev"}, refresh=True)
        hits = es_client.search(index=index, query={"match": {"title": "tanks"}})["hits"]["hits"]
        assert [hit["_id"] for hit in hits] == ["a1"]
    finally:
        es_client.options(ignore_status=404).indices.delete(index=index)


def test_status_says_up_with_the_configured_versions(stack: Settings) -> None:
    result = CliRunner().invoke(stack_app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    kafka, elasticsearch = json.loads(result.stdout)
    assert kafka.items() >= {"service": "kafka", "name": "kafka", "version": stack.kafka_version,
                             "address": f"localhost:{stack.kafka_port}", "status": "up",
                             "role": "broker,controller"}.items()
    assert kafka["health"].startswith("healthy: 1/1 brokers")
    assert elasticsearch.items() >= {"service": "elasticsearch", "name": "elasticsearch",
                                     "version": stack.elasticsearch_version,
                                     "address": f"http://localhost:{stack.elasticsearch_port}", "status": "up"}.items()
    assert elasticsearch["role"] == "master,data,ingest (elected master)"
    assert elasticsearch["health"].split(":")[0] in ("green", "yellow")


def test_up_again_leaves_the_running_services_alone(stack: Settings) -> None:
    pid_files = sorted((stack.state_dir / "run").glob("*.pid"))
    before = {path.name: path.read_text() for path in pid_files}
    assert set(before) == {"kafka.pid", "elasticsearch.pid"}
    local_stack.up(stack.stack)
    assert {path.name: path.read_text() for path in pid_files} == before


def processes_mentioning(directory: Path, excluding: Path | None = None) -> list[str]:
    """Command lines of live processes that name `directory` (the services' jars, config and data are
    there), but not `excluding` (the cluster profile's nodes, which share the single stack's jars)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
        except OSError:
            continue  # exited meanwhile
        if str(directory).encode() in command and not (excluding and str(excluding).encode() in command):
            found.append(command.replace(b"\0", b" ").decode(errors="replace")[:200])
    return found


def test_down_leaves_nothing_running_and_up_restarts(stack: Settings) -> None:
    try:
        local_stack.down(stack.stack)
        assert [service.up for service in local_stack.status(stack.stack)] == [False, False]
        assert not port_open("localhost", stack.kafka_port)
        assert not port_open("localhost", stack.elasticsearch_port)
        cluster_dir = Settings(stack_profile="cluster").stack.profile_dir
        assert processes_mentioning(stack.state_dir, excluding=cluster_dir) == []
        assert list((stack.state_dir / "run").glob("*.pid")) == []
    finally:
        statuses = local_stack.up(stack.stack)
    assert [service.up for service in statuses] == [True, True]
