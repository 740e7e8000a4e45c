"""Elasticsearch run from the Maven-fetched minimal distribution: one node, or a cluster of several on
this machine.

Elasticsearch refuses to run as root, so when root starts the stack (CI, containers) it runs as an
unprivileged system user, created on first use, who owns its data, logs and config directories.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from string import Template

from deploy import artifacts, processes, service
from deploy.console import say
from deploy.errors import StackError
from deploy.java import Jdk, find_jdk
from deploy.probes import get_json
from deploy.service import LocalService
from deploy.status import ServiceStatus
from deploy.config import StackConfig

NAME = "elasticsearch"
MINIMUM_JAVA = 21
CONFIG_TEMPLATE = Path(__file__).with_name("elasticsearch.yml")


@dataclass(frozen=True)
class Node:
    """One Elasticsearch node, with every role (master-eligible, data, ingest)."""
    name: str  # what the stack calls it (its processes, logs, pid file)
    node_name: str  # node.name, what Elasticsearch calls it
    http_port: int
    transport_port: int
    config_dir: Path
    data_dir: Path
    server_logs_dir: Path
    tmp_dir: Path
    log_file: Path
    pid_file: Path

    @property
    def address(self) -> str:
        return f"http://localhost:{self.http_port}"


def nodes(config: StackConfig) -> list[Node]:
    """The profile's nodes; a single one keeps the names it always had (elasticsearch, es-data, …)."""
    base, single = config.profile_dir, config.elasticsearch_nodes == 1
    found = []
    for index in range(config.elasticsearch_nodes):
        name = NAME if single else f"{NAME}-{index + 1}"
        files = "es" if single else f"es-{index + 1}"
        found.append(Node(
            name=name, node_name=f"newsstream-{index + 1}",
            http_port=config.elasticsearch_port + index, transport_port=config.elasticsearch_transport_port + index,
            config_dir=base / "conf" / name, data_dir=base / f"{files}-data",
            server_logs_dir=base / "logs" / f"{name}-server", tmp_dir=base / f"{files}-tmp",
            log_file=base / "logs" / f"{name}.log", pid_file=base / "run" / f"{name}.pid",
        ))
    return found


def address(config: StackConfig) -> str:
    """Every node's URL, comma-separated."""
    return ",".join(node.address for node in nodes(config))


def cluster_name(config: StackConfig) -> str:
    # A cluster's nodes must never join the single node's cluster, nor the other way round.
    return "newsstream" if config.stack_profile == "single" else f"newsstream-{config.stack_profile}"


def is_ready(node: Node) -> bool:
    """The cluster health the node reports is yellow or green (the minimal distribution answers 405
    to `GET /`); a node of a cluster answers once a master is elected."""
    health = get_json(f"{node.address}/_cluster/health")
    return health is not None and health.get("status") in ("yellow", "green")


def _service(node: Node) -> LocalService:
    return LocalService(
        name=node.name, address=node.address, port=node.http_port,
        port_variable="NEWSSTREAM_ELASTICSEARCH_PORT", pid_file=node.pid_file, log_file=node.log_file,
        is_ready=lambda: is_ready(node),
    )


def start(config: StackConfig) -> None:
    """Start the nodes not running yet, and wait until all answer (config.stack_timeout_s)."""
    service.start(
        [(_service(node), lambda node=node: _launch(config, node)) for node in nodes(config)],
        timeout_s=config.stack_timeout_s, stop_timeout_s=config.stack_stop_timeout_s,
    )


def stop(config: StackConfig) -> None:
    # The launcher forwards SIGTERM to the server JVM and waits for it; stopping also checks the whole session.
    service.stop([_service(node) for node in nodes(config)], timeout_s=config.stack_stop_timeout_s)


def status(config: StackConfig) -> list[ServiceStatus]:
    """Every node with its roles (and which one is the elected master), and the cluster's health."""
    found = nodes(config)
    up = {node.name: is_ready(node) for node in found}
    answering = next((node for node in found if up[node.name]), None)
    health = get_json(f"{answering.address}/_cluster/health") if answering else None
    listed = get_json(f"{answering.address}/_nodes") if answering else None
    master = get_json(f"{answering.address}/_cluster/state/master_node") if answering else None
    listed = (listed or {}).get("nodes", {})
    master_name = listed.get((master or {}).get("master_node"), {}).get("name")
    known = {entry["name"]: entry for entry in listed.values()}
    cluster_health = "down" if health is None else (
        f"{health['status']}: {health['number_of_nodes']}/{len(found)} nodes, "
        f"{health['unassigned_shards']} unassigned shards")
    statuses = []
    for node in found:
        entry = known.get(node.node_name, {})
        # The roles that matter here, of the dozen a default node has (data_hot, ml, transform, …).
        roles = [role for role in ("master", "data", "ingest") if role in entry.get("roles", [])]
        role = ",".join(roles) + (" (elected master)" if node.node_name == master_name else "")
        statuses.append(ServiceStatus(NAME, node.name, entry.get("version") or config.elasticsearch_version,
                                      node.address, up[node.name], role=role, health=cluster_health))
    return statuses


def jdk(config: StackConfig) -> Jdk:
    return find_jdk(MINIMUM_JAVA, config.java_home, service=NAME)


def _launch(config: StackConfig, node: Node) -> processes.ServiceProcess:
    runtime = jdk(config)
    home = artifacts.elasticsearch_home(config)
    run_as = _unprivileged_identity(config) if os.geteuid() == 0 else None
    _prepare_directories(config, node, home, run_as)
    if run_as is not None:
        _check_reachable(config, run_as, readable=[home / "lib", runtime.home / "lib"],
                         executable=[home / "bin" / "elasticsearch", runtime.java], writable=[node.data_dir])
    as_user = f" as user {config.elasticsearch_system_user}" if run_as else ""
    say(f"{node.name}: starting {config.elasticsearch_version} on {runtime}{as_user}…")
    return processes.start_detached(
        [str(home / "bin" / "elasticsearch")],
        env={
            **os.environ,
            "ES_JAVA_HOME": str(runtime.home),
            "ES_PATH_CONF": str(node.config_dir),
            "ES_JAVA_OPTS": f"-Xms{config.elasticsearch_heap} -Xmx{config.elasticsearch_heap}",
            "ES_TMPDIR": str(node.tmp_dir),
        },
        # jvm.options writes gc.log and crash files relative to the working directory.
        cwd=node.server_logs_dir,
        log_file=node.log_file,
        pid_file=node.pid_file,
        version=config.elasticsearch_version,
        run_as=run_as,
    )


def _unprivileged_identity(config: StackConfig) -> processes.RunAs:
    """The system user Elasticsearch runs as under root, created if missing."""
    user = config.elasticsearch_system_user
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        if shutil.which("useradd") is None:
            raise StackError(f"{NAME}: refuses to run as root, and `useradd` is missing to create user {user}; "
                             "create that user or run the stack as a non-root user") from None
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", user],
            check=True, capture_output=True,
        )
        say(f"{NAME}: created system user {user} (Elasticsearch refuses to run as root)")
        entry = pwd.getpwnam(user)
    return processes.RunAs(entry.pw_uid, entry.pw_gid)


def render_config(config: StackConfig, node: Node) -> str:
    """The node's elasticsearch.yml: a single node discovers nobody; a cluster's nodes find each other
    on their transport ports and elect the first master among all of them."""
    every = nodes(config)
    if len(every) == 1:
        discovery = "discovery.type: single-node"
    else:
        discovery = "\n".join([
            "discovery.seed_hosts: [" + ", ".join(f'"localhost:{n.transport_port}"' for n in every) + "]",
            # Read on the cluster's first start only; later starts join the cluster the data dir knows.
            "cluster.initial_master_nodes: [" + ", ".join(f'"{n.node_name}"' for n in every) + "]",
        ])
    return Template(CONFIG_TEMPLATE.read_text()).substitute(
        cluster_name=cluster_name(config),
        node_name=node.node_name,
        discovery=discovery,
        http_port=node.http_port,
        transport_port=node.transport_port,
        data_dir=node.data_dir,
        logs_dir=node.server_logs_dir,
    )


def _prepare_directories(config: StackConfig, node: Node, home: Path, run_as: processes.RunAs | None) -> None:
    """Config outside the cached distribution (so dist/ stays pristine), owned by the user ES runs as."""
    if not node.config_dir.is_dir():
        shutil.copytree(home / "config", node.config_dir)  # jvm.options, log4j2.properties, …
    (node.config_dir / "elasticsearch.yml").write_text(render_config(config, node))
    owned = [node.config_dir, node.data_dir, node.server_logs_dir, node.tmp_dir]
    for directory in owned:
        directory.mkdir(parents=True, exist_ok=True)
    if run_as is not None:
        for directory in owned:
            _chown_tree(directory, run_as)


def _chown_tree(root: Path, run_as: processes.RunAs) -> None:
    os.chown(root, run_as.uid, run_as.gid)
    for parent, directories, files in os.walk(root):
        for name in directories + files:
            os.chown(os.path.join(parent, name), run_as.uid, run_as.gid, follow_symlinks=False)


def _check_reachable(
    config: StackConfig, run_as: processes.RunAs, *, readable: list[Path], executable: list[Path], writable: list[Path]
) -> None:
    """Fail clearly when the service user cannot get at a path, typically a state dir under /root (mode 700)."""
    checks = [("-r", path) for path in readable] + [("-x", path) for path in executable]
    checks += [("-w", path) for path in writable]
    for flag, path in checks:
        allowed = subprocess.run(["test", flag, str(path)], user=run_as.uid, group=run_as.gid, extra_groups=[])
        if allowed.returncode != 0:
            raise StackError(
                f"{NAME}: runs as user {config.elasticsearch_system_user}, who cannot reach {path}; make its parent "
                "directories traversable (chmod o+x) or set NEWSSTREAM_STATE_DIR outside them, e.g. /var/lib/newsstream"
            )
