"""The command line without the stack: what each group answers to good and bad input."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from newsstream.cli.main import app
from newsstream.settings import PROJECT_ROOT

runner = CliRunner()


def said(result) -> str:  # noqa: ANN001 - the console wraps long lines
    return " ".join(result.output.split())


def test_enrich_runs_the_stages_in_process_on_the_samples() -> None:
    result = runner.invoke(app, ["enrich", str(PROJECT_ROOT / "samples" / "articles-de-es.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    articles = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert {article["language"] for article in articles} == {"de", "es"}


def test_schema_exports_the_models() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0 and set(json.loads(result.stdout)) == {"RawArticle", "EnrichedArticle", "DeadLetter"}


def test_an_invalid_rule_is_refused_before_kafka_is_asked() -> None:
    result = runner.invoke(app, ["alerts", "add", "broken", "--query", "(sanctions AND"],
                           env={"NEWSSTREAM_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert result.exit_code == 2 and "invalid query" in said(result)
    refused = runner.invoke(app, ["alerts", "add", "inside", "--query", "x", "--webhook", "http://127.0.0.1:9200/"],
                            env={"NEWSSTREAM_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert refused.exit_code == 2 and "invalid rule: webhook:" in said(refused)


def test_a_digest_needs_a_known_cadence_and_time_zone_and_excludes_a_throttle() -> None:
    offline = {"NEWSSTREAM_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    for options, reason in ((["--digest", "weekly"], "--digest is hourly or daily, not 'weekly'"),
                            (["--digest", "daily", "--tz", "Mars/Olympus"], "tz: Value error, unknown time zone"),
                            (["--digest", "daily", "--at", "8am"], "at: String should match pattern"),
                            (["--digest", "hourly", "--throttle", "5"], "throttled or sends digests, not both")):
        result = runner.invoke(app, ["alerts", "add", "r", "--query", "sanctions", *options], env=offline)
        assert result.exit_code == 2 and reason in said(result), said(result)


def test_eval_ner_says_what_a_fold_must_look_like(tmp_path) -> None:  # noqa: ANN001
    gold = tmp_path / "gold.conll"
    gold.write_text("Paris B-LOC\n", encoding="utf-8")
    result = runner.invoke(app, ["measure", "eval-ner", str(gold), "--language", "en", "--fold", "fifth"])
    assert result.exit_code == 1 and "--fold takes K/N" in said(result)


def test_every_group_lists_its_commands() -> None:
    for group, commands in {"stack": ("up", "down", "status"), "alerts": ("add", "rm", "list", "test", "tail", "deliveries"),
                            "deadletter": ("list", "replay"), "feeds": ("once", "run", "status"),
                            "entities": ("find", "show", "merge", "split", "rebuild"),
                            "measure": ("eval-ner", "eval-langid", "eval-linking", "eval-dedup", "eval-stories", "story-lookup", "linking-cost", "bench",
                                        "bench-alerts", "codecs")}.items():
        result = runner.invoke(app, [group, "--help"])
        assert result.exit_code == 0 and all(command in result.output for command in commands), group
