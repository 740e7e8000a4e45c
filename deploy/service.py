"""The lifecycle both services share: start unless running, wait until healthy, stop what we started."""
from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from deploy import processes
from deploy.console import say
from deploy.errors import StackError
from deploy.probes import port_open


@dataclass(frozen=True)
class LocalService:
    name: str
    address: str
    port: int
    port_variable: str  # the environment variable that moves it, for the "port taken" error
    pid_file: Path
    log_file: Path
    is_ready: Callable[[], bool]


def start(
    services: list[tuple[LocalService, Callable[[], processes.ServiceProcess]]],
    *,
    timeout_s: float,
    stop_timeout_s: float,
) -> None:
    """Launch each (service, launch) unless it already runs, then wait until all are healthy.

    All are launched before any is waited for: a node of a cluster is healthy only once enough of
    the others have joined it. A service we started earlier is left alone; so is one that answers on
    its port but was started by something else (another checkout, docker compose). A port held by
    anything else is an error.
    """
    waiting: list[tuple[LocalService, processes.ServiceProcess]] = []
    started = time.monotonic()
    try:
        for service, launch in services:
            running = processes.read_pid_file(service.pid_file)
            if running is not None and service.is_ready():
                say(f"{service.name}: already running at {service.address} (pid {running.pid})")
                continue
            if running is None and port_open("localhost", service.port):
                if service.is_ready():
                    say(f"{service.name}: {service.address} already answers, not started by newsstream; "
                        "leaving it alone")
                    continue
                raise StackError(f"{service.name}: port {service.port} is taken by another program; "
                                 f"stop it or set {service.port_variable}")
            if running is not None:
                say(f"{service.name}: already started (pid {running.pid}) but not answering yet; waiting for it")
            waiting.append((service, running or launch()))
        for service, process in waiting:
            processes.wait_until_ready(
                service.name, process, service.is_ready,
                timeout_s=max(0.0, timeout_s - (time.monotonic() - started)), log_file=service.log_file,
            )
            say(f"{service.name}: up at {service.address} ({time.monotonic() - started:.1f} s)")
    except StackError:
        # Whatever is left of a failed start goes, so that the next `up` starts afresh.
        for service, process in waiting:
            processes.stop(service.name, process, service.pid_file, timeout_s=stop_timeout_s)
        raise


def stop(services: list[LocalService], *, timeout_s: float) -> None:
    """Stop the services all at once: a KRaft broker stopped after the others waits in vain for a
    controller quorum to let it go, until it is killed."""
    with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
        for done in [pool.submit(_stop_one, service, timeout_s) for service in services]:
            done.result()  # re-raises a StackError of any of them


def _stop_one(service: LocalService, timeout_s: float) -> None:
    running = processes.read_pid_file(service.pid_file)
    if running is None:
        if port_open("localhost", service.port):
            say(f"{service.name}: {service.address} answers but was not started by newsstream; left running")
        else:
            say(f"{service.name}: not running")
        return
    say(f"{service.name}: stopping (pid {running.pid})…")
    started = time.monotonic()
    processes.stop(service.name, running, service.pid_file, timeout_s=timeout_s)
    say(f"{service.name}: stopped ({time.monotonic() - started:.1f} s)")
