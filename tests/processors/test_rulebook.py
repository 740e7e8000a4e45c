"""The rule book without Kafka: how records of the rules topic change the rules in force, and what
publishing refuses before anything is sent."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from clients.kafka import KafkaClientConfig
from clients.outbound import OutboundPolicy
from clients.undecodable import UNDECODABLE_HEADER
from processors.alerts import InvalidRuleQuery, RuleIndex
from processors.config import DEFAULT_LANGUAGES
from processors.rulebook import InvalidRule, RuleBook, RulesConfig, publish_rule
from schemas.alerts import Rule

# Nothing listens there: a publish that got as far as sending would fail loudly.
CONFIG = RulesConfig(kafka=KafkaClientConfig("127.0.0.1:1"), topic="alerts.rules", languages=DEFAULT_LANGUAGES,
                     outbound=OutboundPolicy())


@dataclass
class Record:
    key: bytes | None
    value: bytes | None
    headers: list = field(default_factory=list)
    topic: str = "alerts.rules"
    offset: int = 0


def test_records_add_replace_and_remove_rules() -> None:
    index = RuleIndex(DEFAULT_LANGUAGES)
    RuleBook.apply_record(index, Record(b"s", Rule(name="s", query="sanctions").model_dump_json().encode()))
    RuleBook.apply_record(index, Record(b"s", Rule(name="s", query="embargo").model_dump_json().encode()))
    assert len(index) == 1
    RuleBook.apply_record(index, Record(b"s", None))  # the tombstone
    assert len(index) == 0


def test_unreadable_keyless_and_undecodable_records_are_skipped() -> None:
    index = RuleIndex(DEFAULT_LANGUAGES)
    RuleBook.apply_record(index, Record(b"bad", b"{not json"))
    RuleBook.apply_record(index, Record(None, b"{}"))
    RuleBook.apply_record(index, Record(None, b"", headers=[(UNDECODABLE_HEADER, b"corrupt batch")]))
    assert len(index) == 0


def test_an_unparsable_query_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(InvalidRuleQuery):
        publish_rule(CONFIG, Rule(name="broken", query="(sanctions AND"))


@pytest.mark.parametrize("webhook", ["http://127.0.0.1:9200/", "http://10.1.2.3/hook", "http://[::1]/",
                                     "http://169.254.169.254/latest/meta-data/", "http://localhost:8080/"])
def test_a_webhook_to_an_internal_address_is_refused_before_anything_is_sent(webhook: str) -> None:
    with pytest.raises(InvalidRule, match="^webhook: "):
        publish_rule(CONFIG, Rule(name="inside", query="x", webhook=webhook))


@pytest.mark.parametrize(("fields", "message"), [
    ({"name": ".."}, "dots"), ({"entity": "E" * 201}, "at most 200"),
    ({"webhook": "https://u:p@hooks.example.org/a"}, "must not carry a user"),
])
def test_the_rule_model_bounds_every_field(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rule(**{"name": "ok", "query": "x", **fields})
