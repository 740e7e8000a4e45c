"""The per-node configs the local stack renders, for one node of each and for the cluster profile."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from deploy import elasticsearch, kafka
from newsstream.settings import Settings


def properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


@pytest.fixture
def single(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path)


@pytest.fixture
def cluster(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, stack_profile="cluster")


def test_the_single_node_stack_keeps_its_ports_and_files(single: Settings, tmp_path: Path) -> None:
    [broker] = kafka.brokers(single.stack)
    assert (broker.name, broker.port, broker.controller_port) == ("kafka", 9092, 9093)
    assert (broker.data_dir, broker.pid_file) == (tmp_path / "kafka-data", tmp_path / "run" / "kafka.pid")
    assert broker.config_file == tmp_path / "conf" / "kafka-server.properties"
    [node] = elasticsearch.nodes(single.stack)
    assert (node.name, node.http_port, node.transport_port) == ("elasticsearch", 9200, 9300)
    assert (node.data_dir, node.config_dir) == (tmp_path / "es-data", tmp_path / "conf" / "elasticsearch")
    assert single.kafka_bootstrap_servers == "localhost:9092"
    assert single.elasticsearch_url == "http://localhost:9200"
    assert (single.topic_partitions, single.topic_replication_factor, single.index_replicas) == (4, -1, None)


def test_a_single_broker_is_a_standalone_quorum_with_one_replica(single: Settings) -> None:
    [broker] = kafka.brokers(single.stack)
    rendered = properties(kafka.render_config(single.stack, broker))
    assert rendered["node.id"] == "1"
    assert rendered["controller.quorum.bootstrap.servers"] == "localhost:9093"
    assert rendered["offsets.topic.replication.factor"] == rendered["default.replication.factor"] == "1"
    assert rendered["min.insync.replicas"] == rendered["transaction.state.log.min.isr"] == "1"


def test_the_cluster_profile_supplies_shape_ports_and_replication(cluster: Settings) -> None:
    assert (cluster.kafka_brokers, cluster.elasticsearch_nodes) == (3, 2)
    assert cluster.kafka_bootstrap_servers == "localhost:19092,localhost:19093,localhost:19094"
    assert cluster.elasticsearch_url == "http://localhost:19200,http://localhost:19201"
    assert cluster.elasticsearch.hosts == ["http://localhost:19200", "http://localhost:19201"]
    assert (cluster.topic_partitions, cluster.topic_replication_factor, cluster.topic_min_insync_replicas) == (12, 3, 2)
    assert cluster.index_replicas == 1


def test_what_is_set_explicitly_wins_over_the_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSSTREAM_STACK_PROFILE", "cluster")
    monkeypatch.setenv("NEWSSTREAM_TOPIC_PARTITIONS", "24")
    monkeypatch.setenv("NEWSSTREAM_KAFKA_BROKERS", "5")
    settings = Settings(state_dir=tmp_path)
    assert (settings.topic_partitions, settings.kafka_brokers, settings.topic_replication_factor) == (24, 5, 3)
    assert len(kafka.brokers(settings.stack)) == 5


def test_cluster_brokers_have_their_own_ids_ports_and_dirs_and_one_quorum(cluster: Settings) -> None:
    brokers = kafka.brokers(cluster.stack)
    rendered = [properties(kafka.render_config(cluster.stack, broker)) for broker in brokers]
    assert [config["node.id"] for config in rendered] == ["1", "2", "3"]
    assert [config["listeners"] for config in rendered] == [
        f"PLAINTEXT://localhost:{port},CONTROLLER://localhost:{port + 100}" for port in (19092, 19093, 19094)]
    assert len({config["log.dirs"] for config in rendered}) == 3
    assert all(Path(config["log.dirs"]).parent == cluster.state_dir / "cluster" for config in rendered)
    assert {config["controller.quorum.bootstrap.servers"] for config in rendered} == {
        "localhost:19192,localhost:19193,localhost:19194"}
    for config in rendered:
        assert config["offsets.topic.replication.factor"] == config["default.replication.factor"] == "3"
        assert config["min.insync.replicas"] == config["transaction.state.log.min.isr"] == "2"


def test_the_initial_controllers_name_every_node_with_its_own_directory_id(cluster: Settings) -> None:
    voters = kafka.initial_controllers(kafka.brokers(cluster.stack)).split(",")
    parsed = [re.fullmatch(r"(\d)@localhost:(\d+):([A-Za-z0-9_-]{22})", voter) for voter in voters]
    assert all(parsed)
    assert [(match[1], match[2]) for match in parsed] == [("1", "19192"), ("2", "19193"), ("3", "19194")]
    assert len({match[3] for match in parsed}) == 3


def test_cluster_nodes_find_each_other_and_nothing_else(cluster: Settings, single: Settings) -> None:
    nodes = elasticsearch.nodes(cluster.stack)
    rendered = [yaml.safe_load(elasticsearch.render_config(cluster.stack, node)) for node in nodes]
    assert [config["node.name"] for config in rendered] == ["newsstream-1", "newsstream-2"]
    assert [(config["http.port"], config["transport.port"]) for config in rendered] == [(19200, 19300), (19201, 19301)]
    assert len({config["path.data"] for config in rendered}) == 2
    for config in rendered:
        assert "discovery.type" not in config
        assert config["discovery.seed_hosts"] == ["localhost:19300", "localhost:19301"]
        assert config["cluster.initial_master_nodes"] == ["newsstream-1", "newsstream-2"]
        assert config["cluster.name"] == "newsstream-cluster"
    [alone] = [yaml.safe_load(elasticsearch.render_config(single.stack, node))
               for node in elasticsearch.nodes(single.stack)]
    assert alone["discovery.type"] == "single-node" and alone["cluster.name"] == "newsstream"
    assert "discovery.seed_hosts" not in alone


def test_the_cluster_collides_with_the_single_stack_in_no_port_or_directory(cluster: Settings,
                                                                            single: Settings) -> None:
    def taken(settings: Settings) -> tuple[set[int], set[Path]]:
        brokers, nodes = kafka.brokers(settings.stack), elasticsearch.nodes(settings.stack)
        ports = {port for b in brokers for port in (b.port, b.controller_port)}
        ports |= {port for n in nodes for port in (n.http_port, n.transport_port)}
        paths = {path for b in brokers for path in (b.data_dir, b.config_file, b.log_file, b.pid_file)}
        paths |= {path for n in nodes for path in (n.data_dir, n.config_dir, n.tmp_dir, n.log_file, n.pid_file)}
        return ports, paths

    (cluster_ports, cluster_paths), (single_ports, single_paths) = taken(cluster), taken(single)
    assert len(cluster_ports) == 3 * 2 + 2 * 2 and not cluster_ports & single_ports
    assert not cluster_paths & single_paths
    assert cluster.stack.profile_dir != single.stack.profile_dir
