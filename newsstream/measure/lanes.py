"""Lanes: a run of the service on topics, indices and a consumer group named for that run alone,
so that benchmarks and integration tests never see each other's messages or documents.

A system runs as processes of its own (the Faust workers with their NLP pools, or the naive
consumer), so that the peak memory of each process can be read from /proc and nothing they do
competes with the benchmark's producer for one interpreter lock.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from clients.elasticsearch import make_client
from clients.kafka import admin_client
from newsstream.provision import provision
from newsstream.settings import Settings
from schemas.indices import INDICES
from schemas.topics import TOPICS

RUN_PREFIX = "lane-"
STOP_TIMEOUT_S = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The stack's processes, told by their command lines: the same for the single node and the cluster.
STACK_ROLES = {"kafka": b"kafka.Kafka", "elasticsearch": b"org.elasticsearch.bootstrap.Elasticsearch"}


@dataclass(frozen=True)
class Running:
    """A system's processes while it runs: their pids, and whether they all still do."""

    pids: list[int]
    alive: Callable[[], bool]
    ready: Callable[[], bool] = lambda: True  # consuming every partition, e.g. its consumer group settled


@dataclass(frozen=True)
class Lane:
    name: str
    overrides: dict[str, Any]  # what makes Settings() this lane's settings
    settings: Settings
    log: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, **{f"NEWSSTREAM_{key.upper()}": str(value) for key, value in self.overrides.items()}}


def run_prefix(run: str) -> str:
    """The prefix of every topic, index and consumer group of one benchmark run."""
    return f"{RUN_PREFIX}{run}-"


def open_lane(run: str, name: str, es: Elasticsearch, log_dir: Path, **overrides: Any) -> Lane:
    """Creates the lane's topics and indices; `overrides` are further settings (e.g. nlp_processes)."""
    prefix = f"{run_prefix(run)}{name}-"
    # Every topic and index the product declares, so that those added later are isolated too.
    names = {**{f"topic_{spec.role}": prefix + spec.default_name for spec in TOPICS},
             **{f"index_{spec.role}": prefix + spec.default_name for spec in INDICES}}
    overrides = {**names, "worker_app_id": f"{prefix}worker", **overrides}
    settings = Settings(**overrides)
    provision(settings)
    return Lane(name, overrides, settings, log_dir / f"{name}.log")


def remove_run(run: str, settings: Settings, es: Elasticsearch) -> None:
    """Deletes the run's topics (Faust's own included), indices and index templates."""
    prefix = run_prefix(run)
    with admin_client(settings.kafka) as admin:
        topics = [topic for topic in admin.list_topics() if topic.startswith(prefix)]
        if topics:
            admin.delete_topics(topics)
    # By name: Elasticsearch refuses wildcard deletes (action.destructive_requires_name).
    indices = list(es.indices.get(index=f"{prefix}*", expand_wildcards="all"))
    for index in indices:
        es.options(ignore_status=404).indices.delete(index=index)
    templates = es.options(ignore_status=404).indices.get_index_template(name=f"{prefix}*")
    for template in templates.get("index_templates", []):
        es.options(ignore_status=404).indices.delete_index_template(name=template["name"])


def consumer_group_members(lane: Lane) -> int:
    """Members of the lane's consumer group once it is stable (its partitions assigned), else 0."""
    group_id = lane.settings.worker_app_id
    with admin_client(lane.settings.kafka) as admin:
        group = admin.describe_groups([group_id]).get(group_id, {})
    return len(group.get("members", [])) if group.get("group_state") == "Stable" else 0


@contextmanager
def service_workers(lane: Lane, count: int) -> Iterator[Running]:
    """`count` `newsstream worker` processes in one consumer group."""
    workers: list[subprocess.Popen] = []
    try:
        with open(lane.log, "ab") as log:
            for _ in range(count):
                # Its own session: stopping it can take its NLP pool processes along.
                workers.append(subprocess.Popen([sys.executable, "-m", "newsstream.cli", "worker"], env=lane.env,
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        yield Running([worker.pid for worker in workers], lambda: all(worker.poll() is None for worker in workers),
                      lambda: consumer_group_members(lane) == count)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
            _kill_group(worker.pid)  # pool processes left behind by a worker that did not stop cleanly
            worker.wait()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def consume_one_at_a_time(overrides: dict[str, Any], stop: Any) -> None:  # stop: a multiprocessing Event
    """The naive consumer: each message through the stages on its own, one index request each."""
    from kafka import KafkaConsumer

    from processors.index import article_document
    from processors.pipeline import process_messages
    from schemas import EnrichedArticle

    settings = Settings(**overrides)
    consumer = KafkaConsumer(settings.topic_raw, bootstrap_servers=settings.kafka_bootstrap_servers,
                             group_id=settings.worker_app_id, auto_offset_reset="earliest")
    es = make_client(settings.elasticsearch)
    try:
        while not stop.is_set():
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    outcome = process_messages([record.value], settings.pipeline)[0]
                    if isinstance(outcome, EnrichedArticle):  # dead letters are not counted, nor routed
                        es.index(index=settings.index_articles, id=outcome.id, document=article_document(outcome))
    finally:
        consumer.close()
        es.close()


@contextmanager
def naive_consumer(lane: Lane) -> Iterator[Running]:
    """The naive consumer in a process of its own."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    process = context.Process(target=consume_one_at_a_time, args=(lane.overrides, stop), name="naive-consumer")
    process.start()
    try:
        yield Running([process.pid], process.is_alive)
    finally:
        stop.set()
        process.join(STOP_TIMEOUT_S)
        if process.is_alive():
            process.kill()
            process.join()


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    # The command name may hold spaces and parentheses: fields follow the last ")".
                    parents[int(entry.name)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # exited while we looked
    return parents


def process_tree(roots: list[int]) -> list[int]:
    parents = _parents()
    tree, frontier = [], list(roots)
    while frontier:
        pid = frontier.pop(0)
        tree.append(pid)
        frontier += [child for child, parent in parents.items() if parent == pid]
    return tree


def _child_role(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return "tracker" if b"resource_tracker" in cmdline.read() else "pool"


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def peak_rss_by_role(roots: list[int]) -> dict[str, list[float]]:
    """Peak resident memory (VmHWM) of each live process in the trees of `roots`, MB, grouped by
    role: main (worker or consumer), pool (NLP process), tracker (multiprocessing's)."""
    peaks: dict[str, list[float]] = {}
    for pid in process_tree(roots):
        try:
            role = "main" if pid in roots else _child_role(pid)
            peaks.setdefault(role, []).append(peak_rss_mb(pid))
        except OSError:
            continue
    return peaks


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (not its children's)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def stack_pids() -> dict[str, list[int]]:
    """The Kafka brokers' and Elasticsearch nodes' pids on this machine."""
    found: dict[str, list[int]] = {role: [] for role in STACK_ROLES}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                    command = cmdline.read()
            except OSError:
                continue
            for role, marker in STACK_ROLES.items():
                if marker in command:
                    found[role].append(int(entry.name))
    return found


def cpu_snapshot(roots: list[int]) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each process, by role: worker (or consumer), nlp (its pool), kafka,
    elasticsearch."""
    roles: dict[str, list[int]] = {"worker": list(roots), "nlp": [], **stack_pids()}
    for pid in process_tree(roots):
        try:
            if pid not in roots and _child_role(pid) == "pool":
                roles["nlp"].append(pid)
        except OSError:
            continue
    snapshot: dict[str, dict[int, float]] = {role: {} for role in roles}
    for role, pids in roles.items():
        for pid in pids:
            try:
                snapshot[role][pid] = cpu_seconds(pid)
            except OSError:
                continue
    return snapshot


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, list[float]]:
    """CPU seconds each process used between two snapshots, by role (processes in both only)."""
    return {role: [round(used - before.get(role, {})[pid], 2) for pid, used in pids.items()
                   if pid in before.get(role, {})]
            for role, pids in after.items()}
