from pathlib import Path

import orjson
import pytest

from newsstream.measure.langid import evaluate_langid, render_langid_report
from newsstream.settings import PROJECT_ROOT

GOLD = PROJECT_ROOT.parent / "shared" / "corpora" / "langid" / "ud_test_sentences.jsonl"

SENTENCES = [
    ("The committee will publish its report on the economy next week.", "en"),
    ("Le gouvernement a présenté mardi un nouveau projet de loi sur l'énergie.", "fr"),
    ("Die Bundesregierung will die Förderung für Elektroautos im nächsten Jahr erhöhen.", "de"),
    ("El presidente anunció nuevas medidas para reducir el precio de la electricidad.", "es"),
    # Mislabelled on purpose: an English sentence the gold file calls French.
    ("Shares in the company rose sharply after the announcement on Monday.", "fr"),
]


def write_gold(path: Path, sentences: list[tuple[str, str]]) -> Path:
    rows = [{"id": str(i), "text": text, "lang": lang} for i, (text, lang) in enumerate(sentences)]
    path.write_bytes(b"\n".join(map(orjson.dumps, rows)))
    return path


def test_counts_accuracy_per_language_and_confusions(tmp_path):
    result = evaluate_langid(write_gold(tmp_path / "gold.jsonl", SENTENCES))
    assert result["sentences"] == 5
    assert result["accuracy"] == pytest.approx(4 / 5)
    assert result["languages"] == {"de": 1.0, "en": 1.0, "es": 1.0, "fr": 0.5}
    assert result["sentences_by_language"] == {"de": 1, "en": 1, "es": 1, "fr": 2}
    assert result["confusions"] == [{"gold": "fr", "guess": "en", "count": 1}]
    assert result["sentences_per_s"] > 0
    assert result["rss_mb"] > 0


def test_restricting_languages_changes_the_guesses(tmp_path):
    result = evaluate_langid(write_gold(tmp_path / "gold.jsonl", SENTENCES), ("fr", "de"))
    assert result["languages"]["en"] == 0.0
    assert result["languages"]["de"] == 1.0


def test_report_shows_every_language_and_the_errors(tmp_path):
    report = render_langid_report(evaluate_langid(write_gold(tmp_path / "gold.jsonl", SENTENCES)))
    assert "accuracy 80.00%" in report
    for code in ("de", "en", "es", "fr"):
        assert any(line.startswith(f"{code} ") for line in report.splitlines())
    assert "fr -> en  1" in report


def test_gold_file_accuracy():
    if not GOLD.exists():
        pytest.skip(f"{GOLD} is absent")
    result = evaluate_langid(GOLD)
    assert result["sentences"] == 3840
    assert result["accuracy"] >= 0.99
    assert min(result["languages"].values()) >= 0.95


SAMPLE_GOLD = PROJECT_ROOT / "samples" / "gold" / "langid.jsonl"  # our own sentences, 3 per language


def test_shipped_gold_file_accuracy():
    """The shipped twin of test_gold_file_accuracy: the evaluator on a gold file in the same format."""
    result = evaluate_langid(SAMPLE_GOLD)
    assert result["sentences"] == 45
    assert set(result["sentences_by_language"].values()) == {3}
    assert {"ar", "cs", "da", "ja", "pl", "ru", "sv", "zh"} <= set(result["languages"])  # close pairs, other scripts
    assert result["accuracy"] >= 0.99
    assert min(result["languages"].values()) >= 0.95
    assert "accuracy 100.00%" in render_langid_report(result)
