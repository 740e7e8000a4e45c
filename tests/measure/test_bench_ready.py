"""The bench warms a system up only once it consumes every partition."""
from __future__ import annotations

from pathlib import Path

import pytest

from newsstream.measure.bench import BenchError, wait_until_ready
from newsstream.measure.lanes import Lane, Running
from newsstream.settings import Settings


def lane() -> Lane:
    return Lane("w2n1", {}, Settings(), Path("w2n1.log"))


def test_waits_until_the_group_has_settled() -> None:
    answers = iter([False, False, True])
    asked: list[bool] = []

    def ready() -> bool:
        asked.append(True)
        return next(answers)

    wait_until_ready(lane(), Running([1], lambda: True, ready), poll_s=0)
    assert len(asked) == 3


def test_a_worker_that_exits_while_the_group_settles_fails_the_bench_naming_its_log() -> None:
    with pytest.raises(BenchError, match="w2n1.log"):
        wait_until_ready(lane(), Running([1], lambda: False, lambda: False), poll_s=0)
