"""The worker's Faust app: its own topics (the assignor's) replicated like the product's."""
from __future__ import annotations

from pathlib import Path

from newsstream.settings import Settings
from processors.worker import create_app


def test_faust_topics_take_the_clusters_replication_factor(tmp_path: Path) -> None:
    cluster = create_app(Settings(stack_profile="cluster", state_dir=tmp_path))
    assert cluster.conf.topic_replication_factor == 3


def test_faust_topics_on_one_broker_have_one_replica(tmp_path: Path) -> None:
    assert Settings().topic_replication_factor == -1  # the broker's default, which Faust cannot take
    assert create_app(Settings(state_dir=tmp_path)).conf.topic_replication_factor == 1
