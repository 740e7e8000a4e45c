"""CPU per process during a benchmark's burst, read from /proc."""
from __future__ import annotations

import os
import time

from newsstream.measure.lanes import cpu_snapshot, cpu_used


def test_the_cpu_a_process_used_between_two_snapshots_is_counted_under_its_role() -> None:
    before = cpu_snapshot([os.getpid()])
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # burn a third of a second of CPU
        pass
    used = cpu_used(before, cpu_snapshot([os.getpid()]))
    assert set(used) >= {"worker", "nlp", "kafka", "elasticsearch"}
    [worker] = used["worker"]
    assert 0.25 <= worker < 5.0  # (its "nlp" role: whatever pool processes the test runner's process has)
