"""Detached service processes: start, pid files, health waits and a stop that leaves nothing behind.

Every service starts in a session of its own (`start_new_session=True`), so the session id equals the
pid we record, and every process the service forks (Elasticsearch's server JVM and its children)
carries that session id too: stopping means stopping the whole session, found through /proc.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from deploy.console import say
from deploy.errors import StackError

LOG_TAIL_LINES = 40
_ERROR_LINE = re.compile(r"\b(ERROR|FATAL)\b|^Exception in thread")
_POLL_INTERVAL_S = 0.25


@dataclass(frozen=True)
class ServiceProcess:
    pid: int
    # Kernel start time of the process (clock ticks since boot): tells our process from a later one
    # that happens to reuse its pid.
    start_ticks: int
    version: str


@dataclass(frozen=True)
class RunAs:
    uid: int
    gid: int


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may contain spaces), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def _start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None  # field 22 of stat(5)


def is_running(process: ServiceProcess) -> bool:
    fields = _stat_fields(process.pid)
    return fields is not None and fields[0] != "Z" and int(fields[19]) == process.start_ticks


def session_members(session_id: int) -> list[int]:
    """Live (non-zombie) processes in the session `session_id`."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[0] != "Z" and int(fields[3]) == session_id:
                members.append(int(entry.name))
    return members


def read_pid_file(pid_file: Path) -> ServiceProcess | None:
    """The process recorded in `pid_file` if it still runs; a stale file is removed."""
    try:
        process = ServiceProcess(**json.loads(pid_file.read_text()))
    except (OSError, ValueError, TypeError):
        pid_file.unlink(missing_ok=True)
        return None
    if is_running(process) or session_members(process.pid):
        return process
    pid_file.unlink(missing_ok=True)
    return None


def start_detached(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    log_file: Path,
    pid_file: Path,
    version: str,
    run_as: RunAs | None = None,
) -> ServiceProcess:
    """Start `argv` in its own session with output to `log_file` (truncated) and record it in `pid_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    identity = {"user": run_as.uid, "group": run_as.gid, "extra_groups": []} if run_as else {}
    with open(log_file, "wb") as log:
        child = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, **identity,
        )
    # The service outlives this Popen; clearing the return code stops Popen from warning that it was
    # garbage-collected while the child still ran. Reaping is done in stop() when we are the parent.
    child.returncode = 0
    process = ServiceProcess(child.pid, _start_ticks(child.pid) or 0, version)
    pid_file.write_text(json.dumps(asdict(process)))
    return process


def wait_until_ready(
    name: str,
    process: ServiceProcess,
    is_ready: Callable[[], bool],
    *,
    timeout_s: float,
    log_file: Path,
) -> None:
    """Poll `is_ready` until it holds; fails at `timeout_s`, or at once if the process dies."""
    started = time.monotonic()
    while not is_ready():
        _reap(process.pid)
        if not is_running(process):
            _show_log_tail(name, log_file)
            raise StackError(f"{name}: exited during startup; the end of {log_file} is above")
        if time.monotonic() - started > timeout_s:
            _show_log_tail(name, log_file)
            raise StackError(f"{name}: not ready after {timeout_s:.0f} s; the end of {log_file} is above")
        time.sleep(_POLL_INTERVAL_S)


def stop(name: str, process: ServiceProcess, pid_file: Path, *, timeout_s: float) -> None:
    """SIGTERM the service, wait up to `timeout_s` for its whole session to exit, then SIGKILL what is left."""
    _signal(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _session_alive(process) and time.monotonic() < deadline:
        time.sleep(_POLL_INTERVAL_S)
    leftovers = session_members(process.pid)
    if leftovers:
        say(f"{name}: still running after {timeout_s:.0f} s; killing {len(leftovers)} process(es)")
        for pid in leftovers:
            _signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _session_alive(process):
            if time.monotonic() > deadline:
                raise StackError(f"{name}: processes {session_members(process.pid)} survived SIGKILL")
            time.sleep(_POLL_INTERVAL_S)
    pid_file.unlink(missing_ok=True)


def _session_alive(process: ServiceProcess) -> bool:
    _reap(process.pid)
    return bool(session_members(process.pid))


def _reap(pid: int) -> None:
    """Collect the exit status if this Python process started the service, so it leaves no zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: a previous `up` started it and init reaps it


def _signal(pid: int, signal_number: int) -> None:
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        pass  # already gone
    except PermissionError:
        raise StackError(f"not allowed to signal pid {pid}; stop the stack as the user who started it") from None


def _show_log_tail(name: str, log_file: Path) -> None:
    """The end of the log, preceded by its first error when that scrolled out of the end (the usual cause)."""
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except OSError:
        lines = ["(no log file)"]
    tail_start = max(0, len(lines) - LOG_TAIL_LINES)
    first_error = next((number for number, line in enumerate(lines) if _ERROR_LINE.search(line)), None)
    if first_error is not None and first_error < tail_start:
        say(f"{name}: first error in {log_file}:")
        for line in lines[first_error:first_error + 2]:  # the error and, usually, its exception message
            say(f"  {line}")
    say(f"{name}: last {len(lines) - tail_start} lines of {log_file}:")
    for line in lines[tail_start:]:
        say(f"  {line}")
