"""A single-node KRaft Kafka broker run from the Maven-fetched jars, and the project's topics on it."""
from __future__ import annotations

import base64
import os
import subprocess
import uuid
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


def address(config: StackConfig) -> str:
    return f"localhost:{config.kafka_port}"


def _data_dir(config: StackConfig) -> Path:
    return config.state_dir / "kafka-data"


def _config_file(config: StackConfig) -> Path:
    return config.state_dir / "conf" / "kafka-server.properties"


def _log_file(config: StackConfig) -> Path:
    return config.state_dir / "logs" / "kafka.log"


def _pid_file(config: StackConfig) -> Path:
    return config.state_dir / "run" / "kafka.pid"


def is_ready(config: StackConfig) -> bool:
    """The local broker accepts connections and answers a metadata request."""
    if not port_open("localhost", config.kafka_port):
        return False  # cheap check first: the admin client takes seconds to give up on a closed port
    try:
        with admin_client(KafkaClientConfig(address(config)), timeout_s=3) as admin:
            admin.describe_cluster()
        return True
    except (KafkaError, OSError):
        return False


def _service(config: StackConfig) -> LocalService:
    return LocalService(
        name=NAME, address=address(config), port=config.kafka_port, port_variable="NEWSSTREAM_KAFKA_PORT",
        pid_file=_pid_file(config), log_file=_log_file(config), is_ready=lambda: is_ready(config),
    )


def start(config: StackConfig) -> None:
    """Start the broker unless it runs already, and wait until it answers (config.stack_timeout_s)."""
    service.start(
        _service(config), lambda: _launch(config),
        timeout_s=config.stack_timeout_s, stop_timeout_s=config.stack_stop_timeout_s,
    )


def stop(config: StackConfig) -> None:
    service.stop(_service(config), timeout_s=config.stack_stop_timeout_s)


def status(config: StackConfig) -> ServiceStatus:
    # Kafka does not report its version over the wire: this is the version we started, or the configured one.
    running = processes.read_pid_file(_pid_file(config))
    version = running.version if running else config.kafka_version
    return ServiceStatus(NAME, version, address(config), is_ready(config))


def jdk(config: StackConfig) -> Jdk:
    return find_jdk(MINIMUM_JAVA, config.java_home, service=NAME)


def _launch(config: StackConfig) -> processes.ServiceProcess:
    runtime = jdk(config)
    libs = artifacts.kafka_libs(config)
    _write_config(config)
    _format_storage_once(config, runtime, libs)
    say(f"{NAME}: starting {config.kafka_version} on {runtime}…")
    return processes.start_detached(
        [str(runtime.java), *_jvm_options(config), "-cp", f"{libs}/*", "kafka.Kafka", str(_config_file(config))],
        env=dict(os.environ),
        cwd=config.state_dir,
        log_file=_log_file(config),
        pid_file=_pid_file(config),
        version=config.kafka_version,
    )




def _jvm_options(config: StackConfig) -> list[str]:
    return [
        f"-Xms{config.kafka_heap}", f"-Xmx{config.kafka_heap}",
        "-XX:+UseG1GC", "-Djava.awt.headless=true",
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
    ]


def _write_config(config: StackConfig) -> None:
    properties = Template(CONFIG_TEMPLATE.read_text()).substitute(
        broker_port=config.kafka_port,
        controller_port=config.kafka_controller_port,
        data_dir=_data_dir(config),
    )
    _config_file(config).parent.mkdir(parents=True, exist_ok=True)
    _config_file(config).write_text(properties)


def _format_storage_once(config: StackConfig, runtime: Jdk, libs: Path) -> None:
    """KRaft needs its log directory formatted with a cluster id before the first start."""
    if (_data_dir(config) / "meta.properties").exists():
        return
    say(f"{NAME}: formatting {_data_dir(config)}")
    argv = [str(runtime.java), "-cp", f"{libs}/*", "kafka.tools.StorageTool",
            "format", "-t", _new_cluster_id(), "-c", str(_config_file(config)), "--standalone"]
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
