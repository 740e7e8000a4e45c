"""Language identification measured against gold sentences (JSON lines with `text` and `lang`)."""
from __future__ import annotations

import resource
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from processors.language import detect_language

CONFUSIONS_SHOWN = 10


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def evaluate_langid(path: Path, languages: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Accuracy overall and per gold language, throughput, peak memory and the usual confusions."""
    gold = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    detect_language("warm-up", languages)  # loads the model outside the timed loop
    started = time.perf_counter()
    guesses = [detect_language(row["text"], languages).code for row in gold]
    elapsed = time.perf_counter() - started

    sentences = Counter(row["lang"] for row in gold)
    correct = Counter(row["lang"] for row, guess in zip(gold, guesses) if guess == row["lang"])
    confusions = Counter(
        (row["lang"], guess) for row, guess in zip(gold, guesses) if guess != row["lang"]
    )
    return {
        "sentences": len(gold),
        "accuracy": sum(correct.values()) / len(gold) if gold else 0.0,
        "languages": {code: correct[code] / count for code, count in sorted(sentences.items())},
        "sentences_by_language": dict(sorted(sentences.items())),
        "confusions": [
            {"gold": gold_code, "guess": guess, "count": count}
            for (gold_code, guess), count in confusions.most_common(CONFUSIONS_SHOWN)
        ],
        "sentences_per_s": len(gold) / elapsed if elapsed else 0.0,
        "rss_mb": _peak_rss_mb(),
    }


def render_langid_report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['sentences']} sentences  accuracy {result['accuracy']:.2%}  "
        f"{result['sentences_per_s']:,.0f} sentences/s  peak RSS {result['rss_mb']:.0f} MB",
        "",
        "lang  sentences  accuracy",
    ]
    lines += [
        f"{code:<4}  {result['sentences_by_language'][code]:>9}  {accuracy:>8.2%}"
        for code, accuracy in result["languages"].items()
    ]
    if result["confusions"]:
        lines += ["", "most frequent errors (gold -> guess)"]
        lines += [
            f"{item['gold']} -> {item['guess']}  {item['count']}" for item in result["confusions"]
        ]
    return "\n".join(lines)
