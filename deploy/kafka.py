"""KRaft Kafka brokers run from the Maven-fetched jars: one, or a cluster of several on this machine."""
from __future__ import annotations

import base64
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from string import Template

from kafka.errors import KafkaError

from clients.kafka import KafkaClientConfig, admin_client

from deploy import artifacts, processes, service
from deploy.config import StackConfig
from deploy.console import say
from deploy.errors import StackError
from deploy.java import Jdk, find_jdk
from deploy.probes import port_open
from deploy.service import LocalService
from deploy.status import ServiceStatus

NAME = "kafka"
MINIMUM_JAVA = 17
CONFIG_TEMPLATE = Path(__file__).with_name("kafka-server.properties")
ROLES = "broker,controller"  # process.roles of every node (kafka-server.properties)


@dataclass(frozen=True)
class Broker:
    """One KRaft node, broker and controller in one process (a quorum of all of them)."""
    node_id: int  # from 1
    name: str
    port: int
    controller_port: int
    config_file: Path
    data_dir: Path
    log_file: Path
    pid_file: Path

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"


def brokers(config: StackConfig) -> list[Broker]:
    """The profile's brokers; a single one keeps the names it always had (kafka, kafka-data, …)."""
    base = config.profile_dir
    nodes = []
    for index in range(config.kafka_brokers):
        name = NAME if config.kafka_brokers == 1 else f"{NAME}-{index + 1}"
        nodes.append(Broker(
            node_id=index + 1, name=name, port=config.kafka_port + index,
            controller_port=config.kafka_controller_port + index,
            config_file=base / "conf" / f"{name}-server.properties", data_dir=base / f"{name}-data",
            log_file=base / "logs" / f"{name}.log", pid_file=base / "run" / f"{name}.pid",
        ))
    return nodes


def address(config: StackConfig) -> str:
    """The bootstrap servers: every broker."""
    return ",".join(broker.address for broker in brokers(config))


def is_ready(broker: Broker) -> bool:
    """The broker accepts connections and answers a metadata request."""
    if not port_open("localhost", broker.port):
        return False  # cheap check first: the admin client takes seconds to give up on a closed port
    try:
        with admin_client(KafkaClientConfig(broker.address), timeout_s=3) as admin:
            admin.describe_cluster()
        return True
    except (KafkaError, OSError):
        return False


def _service(broker: Broker) -> LocalService:
    return LocalService(
        name=broker.name, address=broker.address, port=broker.port, port_variable="NEWSSTREAM_KAFKA_PORT",
        pid_file=broker.pid_file, log_file=broker.log_file, is_ready=lambda: is_ready(broker),
    )


def start(config: StackConfig) -> None:
    """Start the brokers not running yet, and wait until all answer (config.stack_timeout_s)."""
    nodes = brokers(config)
    _format_storage_once(config, nodes)
    service.start(
        [(_service(broker), lambda broker=broker: _launch(config, broker)) for broker in nodes],
        timeout_s=config.stack_timeout_s, stop_timeout_s=config.stack_stop_timeout_s,
    )


def stop(config: StackConfig) -> None:
    service.stop([_service(broker) for broker in brokers(config)], timeout_s=config.stack_stop_timeout_s)


def status(config: StackConfig) -> list[ServiceStatus]:
    """Every broker, and the cluster's health as the first answering broker sees it."""
    nodes = brokers(config)
    ready = {broker.node_id: is_ready(broker) for broker in nodes}
    health = _cluster_health(next((broker for broker in nodes if ready[broker.node_id]), None), len(nodes))
    statuses = []
    for broker in nodes:
        # Kafka does not report its version over the wire: this is the version we started, or the configured one.
        running = processes.read_pid_file(broker.pid_file)
        statuses.append(ServiceStatus(NAME, broker.name, running.version if running else config.kafka_version,
                                      broker.address, ready[broker.node_id], role=ROLES, health=health))
    return statuses


def _cluster_health(broker: Broker | None, expected_brokers: int) -> str:
    """Brokers registered and not fenced, and partitions with fewer in-sync replicas than replicas."""
    if broker is None:
        return "down"
    try:
        with admin_client(KafkaClientConfig(broker.address), timeout_s=5) as admin:
            cluster = admin.describe_cluster()
            topics = admin.describe_topics()
    except (KafkaError, OSError) as error:
        return f"unknown ({type(error).__name__})"
    active = sum(1 for registered in cluster["brokers"] if not registered.get("is_fenced"))
    under_replicated = sum(1 for topic in topics for partition in topic["partitions"]
                           if len(partition["isr_nodes"]) < len(partition["replica_nodes"]))
    verdict = "healthy" if active == expected_brokers and under_replicated == 0 else "degraded"
    return f"{verdict}: {active}/{expected_brokers} brokers, {under_replicated} under-replicated partitions"


def jdk(config: StackConfig) -> Jdk:
    return find_jdk(MINIMUM_JAVA, config.java_home, service=NAME)


def _launch(config: StackConfig, broker: Broker) -> processes.ServiceProcess:
    runtime = jdk(config)
    libs = artifacts.kafka_libs(config)
    say(f"{broker.name}: starting {config.kafka_version} on {runtime}…")
    return processes.start_detached(
        [str(runtime.java), *_jvm_options(config), "-cp", f"{libs}/*", "kafka.Kafka", str(broker.config_file)],
        env=dict(os.environ),
        cwd=config.profile_dir,
        log_file=broker.log_file,
        pid_file=broker.pid_file,
        version=config.kafka_version,
    )


def _jvm_options(config: StackConfig) -> list[str]:
    return [
        f"-Xms{config.kafka_heap}", f"-Xmx{config.kafka_heap}",
        "-XX:+UseG1GC", "-Djava.awt.headless=true",
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
    ]


def internal_replication(config: StackConfig) -> tuple[int, int]:
    """(replicas, min in-sync replicas) of the broker's own topics and its defaults: three copies
    that survive one broker down where there are three brokers, one copy on a single broker."""
    replicas = min(3, config.kafka_brokers)
    return replicas, max(1, replicas - 1)


def render_config(config: StackConfig, broker: Broker) -> str:
    """The broker's server.properties."""
    replicas, min_insync = internal_replication(config)
    return Template(CONFIG_TEMPLATE.read_text()).substitute(
        node_id=broker.node_id,
        broker_port=broker.port,
        controller_port=broker.controller_port,
        quorum_bootstrap_servers=",".join(f"localhost:{node.controller_port}" for node in brokers(config)),
        data_dir=broker.data_dir,
        replication_factor=replicas,
        min_insync_replicas=min_insync,
    )


def _format_storage_once(config: StackConfig, nodes: list[Broker]) -> None:
    """KRaft needs every log directory formatted with one cluster id before the first start: a single
    broker as a standalone quorum, several with all of them as the initial controllers."""
    for broker in nodes:
        broker.config_file.parent.mkdir(parents=True, exist_ok=True)
        broker.config_file.write_text(render_config(config, broker))
    formatted = [broker for broker in nodes if (broker.data_dir / "meta.properties").exists()]
    if len(formatted) == len(nodes):
        return
    if formatted:
        raise StackError(f"{NAME}: {', '.join(b.name for b in formatted)} formatted but not "
                         f"{', '.join(b.name for b in nodes if b not in formatted)}; remove "
                         f"{config.profile_dir}/{NAME}*-data to start the cluster afresh")
    runtime, libs = jdk(config), artifacts.kafka_libs(config)
    cluster_id = _random_uuid()
    quorum = ["--standalone"] if len(nodes) == 1 else ["--initial-controllers", initial_controllers(nodes)]
    for broker in nodes:
        say(f"{broker.name}: formatting {broker.data_dir}")
        argv = [str(runtime.java), "-cp", f"{libs}/*", "kafka.tools.StorageTool",
                "format", "-t", cluster_id, "-c", str(broker.config_file), *quorum]
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            for line in (result.stdout + result.stderr).strip().splitlines()[-processes.LOG_TAIL_LINES:]:
                say(f"  {line}")
            raise StackError(f"{broker.name}: `StorageTool format` failed (exit {result.returncode}); "
                             "its output is above")


def initial_controllers(nodes: list[Broker]) -> str:
    """`id@host:port:directory-id` of every controller, the same for formatting each node."""
    return ",".join(f"{broker.node_id}@localhost:{broker.controller_port}:{_random_uuid()}" for broker in nodes)


def _random_uuid() -> str:
    """A cluster or directory id as `StorageTool random-uuid` prints it, without a JVM start: a random
    UUID in unpadded URL-safe base64, never starting with "-" (Kafka's Uuid.randomUuid rejects those:
    they read as options)."""
    while True:
        random_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not random_id.startswith("-"):
            return random_id
