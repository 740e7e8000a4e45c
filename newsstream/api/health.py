"""Health: can the API reach Kafka and Elasticsearch, and how far behind is the worker group."""
from __future__ import annotations

import logging
from typing import Any, Literal

from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError
from kafka import TopicPartition
from kafka.admin import KafkaAdminClient, OffsetSpec
from kafka.errors import KafkaConnectionError, KafkaTimeoutError
from pydantic import BaseModel

from clients.kafka import admin_client
from clients.redact import redact_text, redact_url
from newsstream.settings import Settings

log = logging.getLogger("newsstream.api.health")

CHECK_TIMEOUT_S = 3.0


class Check(BaseModel):
    ok: bool
    detail: str


class WorkerLag(BaseModel):
    """The worker group's lag on the raw topic: articles produced that it has not committed yet."""

    group: str
    topic: str
    state: str  # the group's state as Kafka reports it: Stable while workers run, Empty or Dead otherwise
    members: int
    lag: int | None  # None when Kafka could not be asked
    partition_lag: dict[int, int]


class Health(BaseModel):
    status: Literal["ok", "degraded", "down"]  # degraded: no worker running; down: Kafka or Elasticsearch unreachable
    kafka: Check
    elasticsearch: Check
    worker: WorkerLag


def worker_lag(admin: KafkaAdminClient, group: str, topic: str) -> WorkerLag:
    described = admin.describe_topics([topic])[0]
    partitions = [TopicPartition(topic, p["partition_index"]) for p in described["partitions"]]
    latest = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
    earliest = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in partitions})
    committed = admin.list_group_offsets(group).get(group, {})
    lag = {}
    for tp in partitions:
        position = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else None
        # Never committed: the worker starts from the earliest message still kept.
        lag[tp.partition] = latest[tp].offset - (earliest[tp].offset if position is None else position)
    info = admin.describe_groups([group])[group]
    return WorkerLag(group=group, topic=topic, state=info["group_state"] or "Unknown", members=len(info["members"]),
                     lag=sum(lag.values()), partition_lag=dict(sorted(lag.items())))


def _kafka_problem(error: Exception) -> str:
    if isinstance(error, (KafkaTimeoutError, KafkaConnectionError, TimeoutError)):
        return "Kafka did not answer"
    return f"Kafka could not be asked ({type(error).__name__})"


def _elasticsearch_problem(error: Exception) -> str:
    if isinstance(error, ConnectionTimeout):
        return "Elasticsearch did not answer in time"
    if isinstance(error, TransportError):
        return "Elasticsearch is unreachable"
    if isinstance(error, ApiError):
        return f"Elasticsearch refused the health check ({error.meta.status})"
    return f"Elasticsearch could not be asked ({type(error).__name__})"


def check_health(settings: Settings, es: Any) -> Health:
    """Each check says what happened, never where (addresses may carry credentials) nor the client
    library's message: those go to the log, redacted."""
    unknown_lag = WorkerLag(group=settings.worker_app_id, topic=settings.topic_raw, state="Unknown", members=0,
                            lag=None, partition_lag={})
    try:
        with admin_client(settings.kafka, timeout_s=CHECK_TIMEOUT_S) as admin:
            worker = worker_lag(admin, settings.worker_app_id, settings.topic_raw)
        kafka = Check(ok=True, detail="reachable")
    except Exception as error:  # noqa: BLE001 - any failure to answer is what this check reports
        log.warning("health: Kafka at %s: %s", redact_text(settings.kafka_bootstrap_servers),
                    redact_text(f"{type(error).__name__}: {error}"))
        worker = unknown_lag
        kafka = Check(ok=False, detail=_kafka_problem(error))
    try:
        cluster = es.options(request_timeout=CHECK_TIMEOUT_S, max_retries=0).cluster.health()
        elasticsearch = Check(ok=cluster["status"] != "red", detail=f"cluster status {cluster['status']}")
    except Exception as error:  # noqa: BLE001 - as above
        log.warning("health: Elasticsearch at %s: %s", redact_url(settings.elasticsearch_url),
                    redact_text(f"{type(error).__name__}: {error}"))
        elasticsearch = Check(ok=False, detail=_elasticsearch_problem(error))
    status = "down" if not (kafka.ok and elasticsearch.ok) else "ok" if worker.members else "degraded"
    return Health(status=status, kafka=kafka, elasticsearch=elasticsearch, worker=worker)
