"""The Elasticsearch clients, made one way for every part of the project."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch
from elasticsearch.serializer import OrjsonSerializer
from pydantic import SecretStr

from schemas.indices import IndexSpec


@dataclass(frozen=True)
class ElasticsearchConfig:
    url: str  # one node's URL, or several comma-separated (the client fails over between them)
    api_key: SecretStr | None = None
    request_timeout_s: float = 30.0

    @property
    def hosts(self) -> list[str]:
        return [url.strip() for url in self.url.split(",") if url.strip()]

    @property
    def _api_key(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key else None


def ensure_index(es: Elasticsearch, name: str, spec: IndexSpec, replicas: int | None = None) -> None:
    """Installs the index's template (so an index created by a write gets the mapping too) and
    creates the index, or adds the fields a newer version declares to an index that exists.

    `replicas` (None: the declared number_of_replicas) is a deployment's choice, not the index's:
    it is set on an existing index too, since Elasticsearch changes it live."""
    body = spec.body()
    if replicas is not None:
        body["settings"]["number_of_replicas"] = replicas
    es.indices.put_index_template(name=f"{name}-template", index_patterns=[name], priority=100, template=body)
    if es.indices.exists(index=name):
        es.indices.put_mapping(index=name, properties=body["mappings"]["properties"])
        if replicas is not None:
            es.indices.put_settings(index=name, settings={"number_of_replicas": replicas})
    else:
        # Another process may create it between the check and here: "already exists" (400) is fine.
        es.options(ignore_status=400).indices.create(index=name)


def _options(config: ElasticsearchConfig) -> dict[str, Any]:
    # orjson decodes a batch's story lookup (about 4 MB of signatures) in under half json's time.
    return {"api_key": config._api_key, "request_timeout": config.request_timeout_s,
            "serializers": {"application/json": OrjsonSerializer()}}


def make_client(config: ElasticsearchConfig) -> Elasticsearch:
    return Elasticsearch(config.hosts, **_options(config))


def make_async_client(config: ElasticsearchConfig) -> AsyncElasticsearch:
    return AsyncElasticsearch(config.hosts, **_options(config))
