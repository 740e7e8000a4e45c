"""Session fixtures for tests that need the real local stack (deploy/): a Kafka and an Elasticsearch."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from elasticsearch import Elasticsearch

from deploy import stack as local_stack
from clients.elasticsearch import ensure_index, make_client
from newsstream.provision import provision
from newsstream.settings import Settings, get_settings
from schemas.indices import INDICES


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The cluster tests start five JVMs: they run only when asked for (`-m cluster`), never as part
    of a plain `pytest`; `make test` asks for them in a second run, once the single-node stack is down."""
    if "cluster" in (config.option.markexpr or ""):
        return
    cluster = [item for item in items if item.get_closest_marker("cluster")]
    if cluster:
        config.hook.pytest_deselected(items=cluster)
        items[:] = [item for item in items if not item.get_closest_marker("cluster")]


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


@pytest.fixture
def scratch_indices(es_client: Elasticsearch) -> Iterator[Callable[..., dict[str, str]]]:
    """Creates indices of the given roles (schemas/indices.py) under a name of this test's own, by
    role, and removes them after the test."""
    specs = {spec.role: spec for spec in INDICES}
    created: list[str] = []

    def make(*roles: str) -> dict[str, str]:
        prefix = f"test-{uuid.uuid4().hex[:8]}-"
        names = {role: prefix + role.replace("_", "-") for role in roles}
        for role, name in names.items():
            ensure_index(es_client, name, specs[role])
            created.append(name)
        return names

    yield make
    for name in created:
        es_client.options(ignore_status=404).indices.delete(index=name)
        es_client.options(ignore_status=404).indices.delete_index_template(name=f"{name}-template")
