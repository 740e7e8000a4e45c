"""What the product owns, created where it runs: every declared topic (schemas/topics.py) and
index (schemas/indices.py), on the local stack or on a cluster the user brings."""
from __future__ import annotations

from dataclasses import dataclass

from clients.elasticsearch import ensure_index, make_client
from clients.kafka import ensure_topics
from newsstream.settings import Settings
from newsstream.stories import backfill_story_ids


@dataclass(frozen=True)
class Provisioned:
    topics_created: list[str]
    indices: list[str]
    story_ids_backfilled: int = 0


def provision(settings: Settings) -> Provisioned:
    """Creates the missing topics and indices (existing ones are left as they are); idempotent."""
    created = ensure_topics(settings.kafka, settings.topics, settings.topic_partitions,
                            replication_factor=settings.topic_replication_factor,
                            min_insync_replicas=settings.topic_min_insync_replicas)
    with make_client(settings.elasticsearch) as es:
        for name, spec in settings.indices.items():
            ensure_index(es, name, spec, replicas=settings.index_replicas)
        backfilled = backfill_story_ids(es, settings.index_articles)
    return Provisioned(topics_created=created, indices=list(settings.indices), story_ids_backfilled=backfilled)
