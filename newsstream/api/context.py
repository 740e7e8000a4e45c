"""What the routes share: the settings, the clients and the metrics of one API instance."""
from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, Request
from kafka import KafkaProducer

from clients.elasticsearch import make_client
from clients.kafka import make_producer
from newsstream.api.alert_stream import AlertHub, register_hub
from newsstream.api.metrics import ApiMetrics
from newsstream.settings import Settings
from processors.knowledge import KnowledgeBase
from processors.linking import load_knowledge_base


class ApiContext:
    """The Elasticsearch client connects on first request and the Kafka producer is made on first
    ingest, so the API starts (and reports its health) while either is down."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = ApiMetrics()
        self.es = make_client(settings.elasticsearch)
        self._producer: KafkaProducer | None = None
        self._producer_lock = threading.Lock()  # sync routes run in a thread pool
        # Set when the server is told to stop: event streams end instead of holding up the shutdown.
        self.stopping = threading.Event()
        # The one consumer of the alerts topic that every live stream of this instance shares.
        self.alerts = AlertHub(settings, self.stopping)
        register_hub(self.alerts)

    def knowledge_base(self) -> KnowledgeBase:
        """Loaded on the first entity filter (a few seconds, once): names typed by users resolve to ids."""
        return load_knowledge_base(self.settings.pipeline.knowledge_base)

    def producer(self) -> KafkaProducer:
        with self._producer_lock:
            if self._producer is None:
                self._producer = make_producer(self.settings.kafka)
            return self._producer

    def close(self) -> None:
        with self._producer_lock:
            if self._producer is not None:
                self._producer.close()
                self._producer = None
        self.es.close()


def api_context(request: Request) -> ApiContext:
    return request.app.state.context


Context = Annotated[ApiContext, Depends(api_context)]
