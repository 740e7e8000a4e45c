"""A single-node Elasticsearch run from the Maven-fetched minimal distribution.

Elasticsearch refuses to run as root, so when root starts the stack (CI, containers) it runs as an
unprivileged system user, created on first use, who owns its data, logs and config directories.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
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


def address(config: StackConfig) -> str:
    return f"http://localhost:{config.elasticsearch_port}"


def _data_dir(config: StackConfig) -> Path:
    return config.state_dir / "es-data"


def _config_dir(config: StackConfig) -> Path:
    return config.state_dir / "conf" / "elasticsearch"


def _server_logs_dir(config: StackConfig) -> Path:
    return config.state_dir / "logs" / "elasticsearch-server"


def _tmp_dir(config: StackConfig) -> Path:
    return config.state_dir / "es-tmp"


def _log_file(config: StackConfig) -> Path:
    return config.state_dir / "logs" / "elasticsearch.log"


def _pid_file(config: StackConfig) -> Path:
    return config.state_dir / "run" / "elasticsearch.pid"


def is_ready(config: StackConfig) -> bool:
    """The cluster health is yellow or green (the minimal distribution answers 405 to `GET /`)."""
    health = get_json(f"{address(config)}/_cluster/health")
    return health is not None and health.get("status") in ("yellow", "green")


def running_version(config: StackConfig) -> str | None:
    nodes = get_json(f"{address(config)}/_nodes/_local")
    if not nodes or not nodes.get("nodes"):
        return None
    return next(iter(nodes["nodes"].values())).get("version")


def _service(config: StackConfig) -> LocalService:
    return LocalService(
        name=NAME, address=address(config), port=config.elasticsearch_port,
        port_variable="NEWSSTREAM_ELASTICSEARCH_PORT", pid_file=_pid_file(config), log_file=_log_file(config),
        is_ready=lambda: is_ready(config),
    )


def start(config: StackConfig) -> None:
    """Start Elasticsearch unless it runs already, and wait until it answers (config.stack_timeout_s)."""
    service.start(
        _service(config), lambda: _launch(config),
        timeout_s=config.stack_timeout_s, stop_timeout_s=config.stack_stop_timeout_s,
    )


def stop(config: StackConfig) -> None:
    # The launcher forwards SIGTERM to the server JVM and waits for it; stopping also checks the whole session.
    service.stop(_service(config), timeout_s=config.stack_stop_timeout_s)


def status(config: StackConfig) -> ServiceStatus:
    up = is_ready(config)
    version = running_version(config) if up else None
    return ServiceStatus(NAME, version or config.elasticsearch_version, address(config), up)


def jdk(config: StackConfig) -> Jdk:
    return find_jdk(MINIMUM_JAVA, config.java_home, service=NAME)


def _launch(config: StackConfig) -> processes.ServiceProcess:
    runtime = jdk(config)
    home = artifacts.elasticsearch_home(config)
    run_as = _unprivileged_identity(config) if os.geteuid() == 0 else None
    _prepare_directories(config, home, run_as)
    if run_as is not None:
        _check_reachable(config, run_as, readable=[home / "lib", runtime.home / "lib"],
                         executable=[home / "bin" / "elasticsearch", runtime.java], writable=[_data_dir(config)])
    as_user = f" as user {config.elasticsearch_system_user}" if run_as else ""
    say(f"{NAME}: starting {config.elasticsearch_version} on {runtime}{as_user}…")
    return processes.start_detached(
        [str(home / "bin" / "elasticsearch")],
        env={
            **os.environ,
            "ES_JAVA_HOME": str(runtime.home),
            "ES_PATH_CONF": str(_config_dir(config)),
            "ES_JAVA_OPTS": f"-Xms{config.elasticsearch_heap} -Xmx{config.elasticsearch_heap}",
            "ES_TMPDIR": str(_tmp_dir(config)),
        },
        # jvm.options writes gc.log and crash files relative to the working directory.
        cwd=_server_logs_dir(config),
        log_file=_log_file(config),
        pid_file=_pid_file(config),
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


def _prepare_directories(config: StackConfig, home: Path, run_as: processes.RunAs | None) -> None:
    """Config outside the cached distribution (so dist/ stays pristine), owned by the user ES runs as."""
    config_dir = _config_dir(config)
    if not config_dir.is_dir():
        shutil.copytree(home / "config", config_dir)  # jvm.options, log4j2.properties, …
    (config_dir / "elasticsearch.yml").write_text(Template(CONFIG_TEMPLATE.read_text()).substitute(
        http_port=config.elasticsearch_port,
        transport_port=config.elasticsearch_transport_port,
        data_dir=_data_dir(config),
        logs_dir=_server_logs_dir(config),
    ))
    owned = [config_dir, _data_dir(config), _server_logs_dir(config), _tmp_dir(config)]
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
