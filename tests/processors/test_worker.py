"""The worker's pieces that need no Kafka: the NLP pool's recovery from a dying process."""
import asyncio
import os

import orjson

from processors.pipeline import process_messages
from processors.worker import NlpPool
from schemas import DeadLetter, EnrichedArticle


def crash_on_poison(payloads: list[bytes]) -> list:
    """Stands in for a message that kills the process handling it (a segfault, the OOM killer)."""
    if any(b"poison" in payload for payload in payloads):
        os._exit(1)
    return process_messages(payloads)


def test_a_message_that_kills_its_process_becomes_a_dead_letter_and_the_rest_go_through():
    good = [orjson.dumps({"title": f"Article {n}", "body": f"Paris and Berlin agreed on plan {n}."}) for n in range(3)]
    batch = [good[0], b'{"title": "poison", "body": "x"}', good[1], good[2]]
    pool = NlpPool(2, work=crash_on_poison, warm_up=None)
    try:
        outcomes = asyncio.run(pool.process(batch))
        assert [type(o) for o in outcomes] == [EnrichedArticle, DeadLetter, EnrichedArticle, EnrichedArticle]
        assert outcomes[1].stage == "enrich" and outcomes[1].payload == batch[1]
        # The rebuilt pool keeps working.
        assert all(isinstance(o, EnrichedArticle) for o in asyncio.run(pool.process(good)))
    finally:
        pool.close()
