"""A single-node KRaft Kafka broker run from the Maven-fetched jars, and the project's topics on it."""
from __future__ import annotations

import base64
import logging
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

from deploy import artifacts, processes, service
from deploy.console import say
from deploy.errors import StackError
from deploy.java import Jdk, find_jdk
from deploy.probes import port_open
from deploy.service import LocalService
from deploy.status import ServiceStatus
from newsstream.settings import Settings

NAME = "kafka"
MINIMUM_JAVA = 17
CONFIG_TEMPLATE = Path(__file__).with_name("kafka-server.properties")


def address(settings: Settings) -> str:
    return f"localhost:{settings.kafka_port}"


def _data_dir(settings: Settings) -> Path:
    return settings.state_dir / "kafka-data"


def _config_file(settings: Settings) -> Path:
    return settings.state_dir / "conf" / "kafka-server.properties"


def _log_file(settings: Settings) -> Path:
    return settings.state_dir / "logs" / "kafka.log"


def _pid_file(settings: Settings) -> Path:
    return settings.state_dir / "run" / "kafka.pid"


def is_ready(settings: Settings) -> bool:
    """The local broker accepts connections and answers a metadata request."""
    if not port_open("localhost", settings.kafka_port):
        return False  # cheap check first: the admin client takes seconds to give up on a closed port
    try:
        with _admin(address(settings), timeout_s=3) as admin:
            admin.describe_cluster()
        return True
    except (KafkaError, OSError):
        return False


def _service(settings: Settings) -> LocalService:
    return LocalService(
        name=NAME, address=address(settings), port=settings.kafka_port, port_variable="NEWSSTREAM_KAFKA_PORT",
        pid_file=_pid_file(settings), log_file=_log_file(settings), is_ready=lambda: is_ready(settings),
    )


def start(settings: Settings) -> None:
    """Start the broker unless it runs already, and wait until it answers (settings.stack_timeout_s)."""
    service.start(
        _service(settings), lambda: _launch(settings),
        timeout_s=settings.stack_timeout_s, stop_timeout_s=settings.stack_stop_timeout_s,
    )


def stop(settings: Settings) -> None:
    service.stop(_service(settings), timeout_s=settings.stack_stop_timeout_s)


def status(settings: Settings) -> ServiceStatus:
    # Kafka does not report its version over the wire: this is the version we started, or the configured one.
    running = processes.read_pid_file(_pid_file(settings))
    version = running.version if running else settings.kafka_version
    return ServiceStatus(NAME, version, address(settings), is_ready(settings))


def jdk(settings: Settings) -> Jdk:
    return find_jdk(MINIMUM_JAVA, settings.java_home, service=NAME)


def _launch(settings: Settings) -> processes.ServiceProcess:
    runtime = jdk(settings)
    libs = artifacts.kafka_libs(settings)
    _write_config(settings)
    _format_storage_once(settings, runtime, libs)
    say(f"{NAME}: starting {settings.kafka_version} on {runtime}…")
    return processes.start_detached(
        [str(runtime.java), *_jvm_options(settings), "-cp", f"{libs}/*", "kafka.Kafka", str(_config_file(settings))],
        env=dict(os.environ),
        cwd=settings.state_dir,
        log_file=_log_file(settings),
        pid_file=_pid_file(settings),
        version=settings.kafka_version,
    )


def project_topics(settings: Settings) -> dict[str, dict]:
    """The topics the pipeline uses, in kafka-python's `create_topics` form.

    No replication factor: -1 takes the broker's default, 1 on the local stack.
    """
    partitioned = {"num_partitions": settings.topic_partitions}
    return {
        settings.topic_raw: partitioned,
        settings.topic_deadletter: partitioned,
        settings.topic_alerts: partitioned,
        # Alert rules are a table keyed by rule id: compaction keeps the latest version of each.
        settings.topic_rules: {"num_partitions": 1, "configs": {"cleanup.policy": "compact"}},
        # The feed poller's tables, read in full at its start: entries sent (keyed by normalised
        # entry id) and each source's last poll and HTTP validators (keyed by source name).
        settings.topic_feeds_seen: {"num_partitions": 1, "configs": {"cleanup.policy": "compact"}},
        settings.topic_feeds_state: {"num_partitions": 1, "configs": {"cleanup.policy": "compact"}},
    }


def ensure_topics(settings: Settings) -> list[str]:
    """Create those of the project's topics that are missing at settings.kafka_bootstrap_servers.

    Returns the names created. Existing topics are left as they are, whatever their partition count.
    """
    wanted = project_topics(settings)
    with _admin(settings.kafka_bootstrap_servers, timeout_s=30) as admin:
        existing = set(admin.list_topics())
        missing = {name: spec for name, spec in wanted.items() if name not in existing}
        if not missing:
            return []
        result = admin.create_topics(missing, raise_errors=False)
        for topic in result["topics"]:
            if topic["error_code"] not in (0, TopicAlreadyExistsError.errno):  # a concurrent creator won
                raise StackError(f"{NAME}: could not create topic {topic['name']}: {topic['error_message']}")
        admin.wait_for_topics(list(missing), timeout_ms=30_000)
    say(f"{NAME}: created topics " + ", ".join(
        f"{name} ({spec['num_partitions']} partition{'' if spec['num_partitions'] == 1 else 's'})"
        for name, spec in missing.items()
    ))
    return list(missing)


@contextmanager
def _admin(bootstrap_servers: str, *, timeout_s: float) -> Iterator[KafkaAdminClient]:
    # kafka-python logs every refused connection as a warning; during a health poll those are expected.
    kafka_logger = logging.getLogger("kafka")
    previous_level = kafka_logger.level
    kafka_logger.setLevel(logging.CRITICAL)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="newsstream-stack",
            bootstrap_timeout_ms=int(timeout_s * 1000),
            request_timeout_ms=int(timeout_s * 1000),
        )
        try:
            yield admin
        finally:
            admin.close()
    finally:
        kafka_logger.setLevel(previous_level)


def _jvm_options(settings: Settings) -> list[str]:
    return [
        f"-Xms{settings.kafka_heap}", f"-Xmx{settings.kafka_heap}",
        "-XX:+UseG1GC", "-Djava.awt.headless=true",
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
    ]


def _write_config(settings: Settings) -> None:
    config = Template(CONFIG_TEMPLATE.read_text()).substitute(
        broker_port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        data_dir=_data_dir(settings),
    )
    _config_file(settings).parent.mkdir(parents=True, exist_ok=True)
    _config_file(settings).write_text(config)


def _format_storage_once(settings: Settings, runtime: Jdk, libs: Path) -> None:
    """KRaft needs its log directory formatted with a cluster id before the first start."""
    if (_data_dir(settings) / "meta.properties").exists():
        return
    say(f"{NAME}: formatting {_data_dir(settings)}")
    argv = [str(runtime.java), "-cp", f"{libs}/*", "kafka.tools.StorageTool",
            "format", "-t", _new_cluster_id(), "-c", str(_config_file(settings)), "--standalone"]
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        for line in (result.stdout + result.stderr).strip().splitlines()[-processes.LOG_TAIL_LINES:]:
            say(f"  {line}")
        raise StackError(f"{NAME}: `StorageTool format` failed (exit {result.returncode}); its output is above")


def _new_cluster_id() -> str:
    """What `StorageTool random-uuid` prints, without a JVM start: a random UUID in unpadded URL-safe
    base64, never starting with "-" (Kafka's Uuid.randomUuid rejects those: they read as options)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id
