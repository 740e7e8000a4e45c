"""Faults on the local replicated cluster (`stack up --profile cluster`), while articles stream in at
a steady rate: kill -9 the broker leading a partition of articles.raw, kill -9 the Elasticsearch
node that is not the elected master (each brought back 15 s later), kill -9 one of three workers,
and restart three workers one by one. Every sent article ends up indexed exactly once, with no
dead letters. Run with `pytest -m cluster -s` to see the figures."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from elasticsearch import Elasticsearch

from clients.elasticsearch import make_client
from clients.kafka import admin_client
from deploy import elasticsearch as local_elasticsearch
from deploy import kafka as local_kafka
from deploy import processes
from deploy import stack as local_stack
from newsstream.cli.deadletter import read_dead_letters
from newsstream.measure.lanes import Lane, open_lane, remove_run
from newsstream.settings import Settings
from tests.integration.conftest import Service, kill, stop, wait_for
from tests.integration.test_faults import in_background, indexed_ids, produce, report, unique_articles

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1200)]

RATE_PER_S = 10.0  # about what one worker with one NLP process keeps up with beside five JVMs on two cores


@pytest.fixture(scope="module")
def cluster() -> Iterator[Settings]:
    settings = Settings(stack_profile="cluster")
    local_stack.up(settings.stack)
    try:
        yield settings
    finally:
        local_stack.down(settings.stack)


@pytest.fixture(scope="module")
def cluster_es(cluster: Settings) -> Iterator[Elasticsearch]:
    with make_client(cluster.elasticsearch) as client:
        yield client


@pytest.fixture
def lane(cluster: Settings, cluster_es: Elasticsearch, tmp_path) -> Iterator[Service]:  # noqa: ANN001
    run = uuid.uuid4().hex[:8]
    opened: Lane = open_lane(run, "fault", cluster_es, tmp_path, stack_profile="cluster", nlp_processes=1)
    yield Service(env=opened.env, settings=opened.settings, log=opened.log)
    remove_run(run, opened.settings, cluster_es)


def kill_9(pid_file) -> None:  # noqa: ANN001
    running = processes.read_pid_file(pid_file)
    assert running is not None, f"nothing runs for {pid_file}"
    for pid in processes.session_members(running.pid):
        os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not processes.session_members(running.pid), timeout_s=30)


Workers = list[subprocess.Popen]


def run_through_a_fault(lane: Service, es: Elasticsearch, tag: str, fault: Callable[[Workers], None],
                        restore: Callable[[Workers], None], workers: int = 1) -> dict[str, object]:
    """`workers` running workers, then 300 articles at RATE_PER_S: `fault` 5 s into the stream,
    `restore` 15 s later (both may replace workers in the list). The drain time runs from the last
    article sent to the last one searchable."""
    warm_up, stream = unique_articles(20, f"{tag}-warm-up"), unique_articles(300, tag)
    running = [lane.start_worker() for _ in range(workers)]
    try:
        produce(lane, warm_up)
        assert lane.wait_for_count(es, len(warm_up), timeout_s=240) == len(warm_up), "the workers indexed nothing"
        feeder = in_background(produce, lane, stream, RATE_PER_S)
        time.sleep(5)
        fault(running)
        time.sleep(15)
        restore(running)
        feeder.join(timeout=300)
        assert not feeder.is_alive(), "the producer did not ride out the fault"
        sent = time.monotonic()
        indexed = lane.wait_for_count(es, len(warm_up) + len(stream), timeout_s=600)
        drain_s = time.monotonic() - sent
        assert all(worker.poll() is None for worker in running), "a worker died"
    finally:
        for worker in running:
            stop(worker)
    ids = indexed_ids(lane, es)
    expected = {article.id for article in warm_up + stream}
    assert ids == expected
    assert indexed == len(expected)  # one document per article id: nothing lost, nothing twice
    dead_letters = sum(1 for _ in read_dead_letters(lane.settings))
    assert dead_letters == 0
    return {"sent": len(expected), "indexed": len(ids), "duplicates": indexed - len(ids),
            "lost": len(expected - ids), "dead_letters": dead_letters, "drain_after_last_sent_s": round(drain_s, 1)}


def nothing(_: Workers) -> None:
    pass


def test_killing_the_leader_of_a_partition_loses_nothing(cluster: Settings, cluster_es: Elasticsearch,
                                                         lane: Service) -> None:
    with admin_client(cluster.kafka) as admin:
        [topic] = admin.describe_topics([lane.settings.topic_raw])
    leader_id = next(p["leader_id"] for p in topic["partitions"] if p["partition_index"] == 0)
    [leader] = [broker for broker in local_kafka.brokers(cluster.stack) if broker.node_id == leader_id]
    figures = run_through_a_fault(lane, cluster_es, "leader-kill", lambda _: kill_9(leader.pid_file),
                                  lambda _: local_kafka.start(cluster.stack))
    report(f"kill -9 {leader.name}, leader of {lane.settings.topic_raw}-0", **figures)
    # Faust's own topic (the group's assignment leader) is replicated like the product's.
    with admin_client(cluster.kafka) as admin:
        [assignor] = admin.describe_topics([f"{lane.settings.worker_app_id}-__assignor-__leader"])
    assert {len(partition["replica_nodes"]) for partition in assignor["partitions"]} == {3}


def test_killing_an_elasticsearch_node_loses_nothing(cluster: Settings, cluster_es: Elasticsearch,
                                                     lane: Service) -> None:
    # Of two nodes only the elected master votes: killing it would stop every write until it is
    # back (README "Running on several machines"); the other one holds replicas and primaries too.
    master = cluster_es.cat.master(format="json")[0]["node"]
    [victim] = [node for node in local_elasticsearch.nodes(cluster.stack) if node.node_name != master]
    figures = run_through_a_fault(lane, cluster_es, "es-node-kill", lambda _: kill_9(victim.pid_file),
                                  lambda _: local_elasticsearch.start(cluster.stack))
    report(f"kill -9 {victim.name} (not the elected master)", **figures)


def test_killing_one_of_three_workers_loses_nothing(lane: Service, cluster_es: Elasticsearch) -> None:
    # The other two take over its partitions at the next rebalance; it is not brought back.
    figures = run_through_a_fault(lane, cluster_es, "worker-kill", lambda workers: kill(workers.pop()), nothing,
                                  workers=3)
    report("kill -9 one of three workers", **figures)


def stable_members(settings: Settings) -> int:
    """Members of the workers' consumer group once it is stable (0 while it rebalances)."""
    with admin_client(settings.kafka) as admin:
        group = admin.describe_groups([settings.worker_app_id])[settings.worker_app_id]
    return len(group["members"]) if group["group_state"] == "Stable" else 0


def test_a_rolling_restart_of_three_workers_loses_nothing(lane: Service, cluster_es: Elasticsearch) -> None:
    def restart_one_by_one(workers: Workers) -> None:
        for position, worker in enumerate(workers):
            stop(worker)  # SIGTERM: the worker commits what it indexed and leaves the group
            workers[position] = lane.start_worker()
            # The next one stops only once this one has joined and the group holds all three again.
            assert wait_for(lambda: stable_members(lane.settings) == len(workers), timeout_s=180), "no rejoin"

    started = time.monotonic()
    figures = run_through_a_fault(lane, cluster_es, "rolling", restart_one_by_one, nothing, workers=3)
    report("rolling restart of three workers", **figures, whole_test_s=round(time.monotonic() - started, 1))
