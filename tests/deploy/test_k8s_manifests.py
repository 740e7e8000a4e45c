"""The Kubernetes manifests (deploy/k8s/) and docker-compose.yml, checked offline: they parse, and
agree with what the product declares (topics, settings, versions, ports)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import kafka
from newsstream.settings import CLUSTER_PROFILE, PROJECT_ROOT, Settings
from schemas.topics import MAX_MESSAGE_BYTES, TOPICS

K8S = PROJECT_ROOT / "deploy" / "k8s"
SETTING_NAMES = {f"NEWSSTREAM_{name.upper()}" for name in Settings.model_fields}


def documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def manifests() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [document for name in kustomization["resources"] for document in documents(K8S / name)]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [document for document in manifests() if document["kind"] == kind]


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    [found] = [document for document in of_kind(kind) if name is None or document["metadata"]["name"] == name]
    return found


def settings_data() -> dict[str, str]:
    return one("ConfigMap", "newsstream-settings")["data"]


def secret_keys() -> set[str]:
    [secret] = documents(K8S / "secret.example.yaml")
    return set(secret["stringData"])


def test_the_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == present
    assert all(document.get("apiVersion") and document["metadata"].get("name") for document in manifests())


def test_a_kafka_topic_for_every_declared_topic_with_the_cluster_profile() -> None:
    kafka_cluster = one("Kafka")["metadata"]["name"]
    topics = {topic["spec"]["topicName"]: topic for topic in of_kind("KafkaTopic")}
    assert set(topics) == {spec.default_name for spec in TOPICS}
    for spec in TOPICS:
        topic = topics[spec.default_name]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka_cluster
        assert topic["spec"]["partitions"] == (spec.partitions or CLUSTER_PROFILE["topic_partitions"]), spec.role
        assert topic["spec"]["replicas"] == CLUSTER_PROFILE["topic_replication_factor"]
        expected = {**spec.configs(), "min.insync.replicas": str(CLUSTER_PROFILE["topic_min_insync_replicas"])}
        assert {key: str(value) for key, value in topic["spec"]["config"].items()} == expected, spec.role


def test_the_kafka_cluster_is_kraft_with_the_local_clusters_broker_settings() -> None:
    cluster, pool = one("Kafka"), one("KafkaNodePool")
    assert "zookeeper" not in cluster["spec"]  # KRaft: the node pool's controllers hold the metadata
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == cluster["metadata"]["name"]
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    assert pool["spec"]["replicas"] >= CLUSTER_PROFILE["topic_replication_factor"]
    assert cluster["spec"]["kafka"]["version"] == Settings().kafka_version
    local = Settings(stack_profile="cluster").stack
    rendered = dict(line.split("=", 1) for line in kafka.render_config(local, kafka.brokers(local)[0]).splitlines()
                    if line and not line.startswith("#"))
    config = cluster["spec"]["kafka"]["config"]
    assert config["message.max.bytes"] == MAX_MESSAGE_BYTES
    for key, value in config.items():
        assert str(value).lower() == rendered[key], key


def test_elasticsearch_has_two_or_more_nodes_of_the_version_we_run() -> None:
    cluster = one("Elasticsearch")
    assert cluster["spec"]["version"] == Settings().elasticsearch_version
    assert sum(node_set["count"] for node_set in cluster["spec"]["nodeSets"]) >= 2
    assert int(settings_data()["NEWSSTREAM_INDEX_REPLICAS"]) == CLUSTER_PROFILE["index_replicas"]


def test_the_clients_point_at_the_services_the_operators_create() -> None:
    data = settings_data()
    assert data["NEWSSTREAM_KAFKA_BOOTSTRAP_SERVERS"] == f"{one('Kafka')['metadata']['name']}-kafka-bootstrap:9092"
    assert data["NEWSSTREAM_ELASTICSEARCH_URL"] == f"http://{one('Elasticsearch')['metadata']['name']}-es-http:9200"


def test_the_workers_scale_on_their_groups_lag_up_to_the_partition_count() -> None:
    scaler, defaults = one("ScaledObject"), Settings()
    assert scaler["spec"]["scaleTargetRef"]["name"] == one("Deployment", "newsstream-worker")["metadata"]["name"]
    [trigger] = scaler["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == defaults.worker_app_id
    assert trigger["metadata"]["bootstrapServers"] == settings_data()["NEWSSTREAM_KAFKA_BOOTSTRAP_SERVERS"]
    [topic] = [t for t in of_kind("KafkaTopic") if t["spec"]["topicName"] == trigger["metadata"]["topic"]]
    assert trigger["metadata"]["topic"] == defaults.topic_raw
    assert 1 <= scaler["spec"]["minReplicaCount"] <= scaler["spec"]["maxReplicaCount"] <= topic["spec"]["partitions"]
    assert int(settings_data()["NEWSSTREAM_TOPIC_PARTITIONS"]) == topic["spec"]["partitions"]


def containers() -> list[tuple[str, dict[str, Any]]]:
    return [(deployment["metadata"]["name"], container) for deployment in of_kind("Deployment")
            for container in deployment["spec"]["template"]["spec"]["containers"]]


def test_every_variable_the_deployments_set_is_a_setting() -> None:
    configmaps, secrets = {"newsstream-settings": set(settings_data())}, {"newsstream-secrets": secret_keys()}
    for deployment, container in containers():
        names = {variable["name"] for variable in container.get("env", [])}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                names |= configmaps[source["configMapRef"]["name"]]
            else:
                names |= secrets[source["secretRef"]["name"]]
        assert names and names <= SETTING_NAMES, (deployment, names - SETTING_NAMES)


def test_the_settings_the_pods_get_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in settings_data().items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.topic_partitions, settings.topic_replication_factor, settings.topic_min_insync_replicas) == (
        CLUSTER_PROFILE["topic_partitions"], CLUSTER_PROFILE["topic_replication_factor"],
        CLUSTER_PROFILE["topic_min_insync_replicas"])
    assert "localhost" in settings.api_hosts  # the probes' Host header


def test_every_container_requests_cpu_and_memory() -> None:
    for deployment, container in containers():
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), deployment
        assert "memory" in container["resources"]["limits"], deployment


def test_the_api_is_probed_on_livez_and_healthz_at_its_port() -> None:
    [api] = [container for deployment, container in containers() if deployment == "newsstream-api"]
    [port] = api["ports"]
    assert port["containerPort"] == int(settings_data()["NEWSSTREAM_API_PORT"])
    assert api["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert api["readinessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in (api["livenessProbe"], api["readinessProbe"]):
        assert probe["httpGet"]["port"] == port["name"]
    [service_port] = one("Service", "newsstream-api")["spec"]["ports"]
    assert service_port["targetPort"] == port["name"]


def test_docker_compose_runs_the_versions_and_limits_the_stack_does() -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    services, defaults = compose["services"], Settings()
    assert services["kafka"]["image"].endswith(f":{defaults.kafka_version}")
    assert services["elasticsearch"]["image"].endswith(f":{defaults.elasticsearch_version}")
    assert int(services["kafka"]["environment"]["KAFKA_MESSAGE_MAX_BYTES"]) == MAX_MESSAGE_BYTES
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert services["kafka"]["ports"] == ["${NEWSSTREAM_KAFKA_PORT:-9092}:9092"]
    assert services["elasticsearch"]["ports"] == ["${NEWSSTREAM_ELASTICSEARCH_PORT:-9200}:9200"]
    # What `depends_on: service_healthy` and `stack up` rely on.
    assert all(service["healthcheck"]["test"] for service in services.values() if "image" in service
               and not service["image"].startswith("newsstream:"))


def test_the_compose_cluster_profile_matches_the_local_cluster_and_the_manifests() -> None:
    services = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())["services"]
    cluster = {name: service for name, service in services.items() if "cluster" in service.get("profiles", [])}
    local = Settings(stack_profile="cluster")
    brokers = [cluster[f"kafka-{n}"] for n in range(1, local.kafka_brokers + 1)]
    assert [broker["ports"] for broker in brokers] == [
        [f"{local.kafka_port + n}:{local.kafka_port + n}"] for n in range(local.kafka_brokers)]
    assert [int(broker["environment"]["KAFKA_NODE_ID"]) for broker in brokers] == [1, 2, 3]
    assert len({broker["environment"]["CLUSTER_ID"] for broker in brokers}) == 1
    rendered = dict(line.split("=", 1) for line in kafka.render_config(local.stack, kafka.brokers(local.stack)[0])
                    .splitlines() if line and not line.startswith("#"))
    for key in ("default.replication.factor", "min.insync.replicas", "offsets.topic.replication.factor",
                "transaction.state.log.min.isr", "message.max.bytes", "auto.create.topics.enable"):
        variable = "KAFKA_" + key.upper().replace(".", "_")
        assert {str(broker["environment"][variable]) for broker in brokers} == {rendered[key]}, key
    nodes = [cluster[f"es-{n}"] for n in range(1, local.elasticsearch_nodes + 1)]
    assert [node["ports"] for node in nodes] == [[f"{local.elasticsearch_port + n}:9200"]
                                                 for n in range(local.elasticsearch_nodes)]
    assert {service["image"].split(":")[-1] for service in brokers} == {local.kafka_version}
    assert {service["image"].split(":")[-1] for service in nodes} == {local.elasticsearch_version}
    configmap = settings_data()
    for name in ("setup", "worker", "api"):
        environment = cluster[name]["environment"]
        assert set(environment) <= SETTING_NAMES, name
        for shared in ("NEWSSTREAM_TOPIC_PARTITIONS", "NEWSSTREAM_TOPIC_REPLICATION_FACTOR",
                       "NEWSSTREAM_TOPIC_MIN_INSYNC_REPLICAS", "NEWSSTREAM_INDEX_REPLICAS", "NEWSSTREAM_API_PORT"):
            assert environment[shared] == configmap[shared], (name, shared)
    assert [cluster[name]["command"] for name in ("setup", "worker", "api")] == [["setup"], ["worker"], ["api"]]


def test_every_container_runs_a_command_of_the_image() -> None:
    import typer.main

    from newsstream.cli import app

    assert 'ENTRYPOINT ["newsstream"]' in (PROJECT_ROOT / "Dockerfile").read_text()
    for deployment, container in containers():
        command = typer.main.get_command(app)
        for word in container["args"]:
            assert word in getattr(command, "commands", {}), (deployment, container["args"])
            command = command.commands[word]
        assert not hasattr(command, "commands"), (deployment, "names a command group, not a command")
