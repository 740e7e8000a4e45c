"""Session fixtures for tests that need the real local stack (deploy/): a Kafka and an Elasticsearch."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from deploy import stack as local_stack
from clients.elasticsearch import make_client
from newsstream.provision import provision
from newsstream.settings import Settings, get_settings


@pytest.fixture(scope="session")
def stack() -> Settings:
    """The settings, once the stack is up: started here unless already running (e.g. by `make test`)."""
    settings = get_settings()
    local_stack.up(settings.stack)
    provision(settings)
    return settings


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: Settings) -> str:
    return stack.kafka_bootstrap_servers


@pytest.fixture(scope="session")
def es_client(stack: Settings) -> Iterator[Elasticsearch]:
    client = make_client(stack.elasticsearch)
    yield client
    client.close()
