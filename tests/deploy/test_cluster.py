"""The local replicated cluster (`newsstream stack up --profile cluster`): three KRaft brokers and two
Elasticsearch nodes start, form one cluster each, get the product's topics replicated three times
and its indices once, and stop leaving nothing behind. Run with `pytest -m cluster`."""
from __future__ import annotations

import json
import time

import pytest
from kafka import KafkaConsumer
from kafka.admin import ConfigResource, ConfigResourceType
from typer.testing import CliRunner

from clients.elasticsearch import make_client
from clients.kafka import admin_client, make_producer
from deploy import stack as local_stack
from deploy.probes import port_open
from newsstream.cli.stack import stack_app
from newsstream.provision import provision
from newsstream.settings import Settings
from tests.deploy.test_stack import processes_mentioning

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]


def test_the_cluster_starts_replicates_and_stops() -> None:
    settings = Settings(stack_profile="cluster")
    config = settings.stack
    started = time.monotonic()
    try:
        local_stack.up(config)
        provision(settings)
        up_s = time.monotonic() - started

        with make_client(settings.elasticsearch) as es:
            health = es.cluster.health(wait_for_status="green", timeout="60s")
            assert (health["status"], health["number_of_nodes"]) == ("green", 2)
            articles = es.indices.get_settings(index=settings.index_articles)[settings.index_articles]
            assert articles["settings"]["index"]["number_of_replicas"] == "1"

        with admin_client(settings.kafka) as admin:
            assert len(admin.describe_cluster()["brokers"]) == 3
            topics = {topic["name"]: topic["partitions"] for topic in admin.describe_topics()}
            configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, settings.topic_raw)])
        assert len(topics[settings.topic_raw]) == 12
        for name in settings.topics:
            assert {len(partition["replica_nodes"]) for partition in topics[name]} == {3}, name
        assert configs["topic"][settings.topic_raw]["min.insync.replicas"]["value"] == "2"

        producer = make_producer(settings.kafka)
        producer.send(settings.topic_alerts, key=b"cluster-test", value=b"{}").get(timeout=30)  # acks=all: 2+ in sync
        producer.close()
        consumer = KafkaConsumer(settings.topic_alerts, bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
                                 auto_offset_reset="earliest", consumer_timeout_ms=30_000)
        try:
            assert any(message.key == b"cluster-test" for message in consumer)
        finally:
            consumer.close()

        result = CliRunner().invoke(stack_app, ["status", "--json", "--profile", "cluster"])
        assert result.exit_code == 0, result.output
        nodes = json.loads(result.stdout)
        assert [(node["name"], node["status"]) for node in nodes] == [
            ("kafka-1", "up"), ("kafka-2", "up"), ("kafka-3", "up"), ("elasticsearch-1", "up"),
            ("elasticsearch-2", "up")]
        assert {node["health"] for node in nodes if node["service"] == "kafka"} == {
            "healthy: 3/3 brokers, 0 under-replicated partitions"}
        assert {node["health"].split(":")[0] for node in nodes if node["service"] == "elasticsearch"} == {"green"}
        assert sum("(elected master)" in node["role"] for node in nodes) == 1
    finally:
        stopping = time.monotonic()
        local_stack.down(config)
        down_s = time.monotonic() - stopping
    ports = [settings.kafka_port + n for n in range(3)] + [settings.elasticsearch_port + n for n in range(2)]
    assert not any(port_open("localhost", port) for port in ports)
    assert processes_mentioning(config.profile_dir) == []
    print(f"\ncluster: up and provisioned in {up_s:.1f} s, down in {down_s:.1f} s")
