"""NER against gold sets: exact-span precision/recall/F1 of the project's own tagging path.

Formats (detected by content):
- columns: one token a line, the token first and its tag last, blank lines between sentences.
  Covers CoNLL-2003 ("token POS chunk NE", IOB1, `-DOCSTART-` lines), CoNLL-2002 ("token POS NE",
  IOB2) and the Europeana French newspapers ("token NE", IOB1, no sentence breaks at all: the file
  is cut into pseudo-sentences after each "." "!" "?" outside an entity).
- germeval: GermEval 2014 TSV, `#` comment line per sentence, "index token outer inner"; the outer
  layer is scored. `*deriv` (names turned into adjectives, "deutschen") and `*part` (a name inside a
  compound word, "EU-Verordnung") count as no entity: the token is not a name (and spaCy cannot
  tag a part of a token anyway).
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from processors.config import PipelineConfig
from processors.clean import normalise_for_nlp
from processors.entities import EntityInput, load_ner_pipeline, tag_entities
from schemas.articles import EntityLabel

SCORED_LABELS: tuple[EntityLabel, ...] = ("person", "location", "organization")
ALL_LABELS: tuple[EntityLabel, ...] = (*SCORED_LABELS, "misc")
GOLD_LABELS: dict[str, EntityLabel] = {
    "PER": "person",
    "LOC": "location",
    "ORG": "organization",
    "MISC": "misc",
    "OTH": "misc",
}
_SENTENCE_END = frozenset(".!?")
# File-name words that name a language in the gold sets' own conventions ("eng.testb", "esp.testb").
_LANGUAGE_ALIASES = {"eng": "en", "esp": "es", "spa": "es", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de"}

# (sentence index, start, end, label): one entity, in characters of the sentence's joined text.
Span = tuple[int, int, int, EntityLabel]


class NerUnavailableError(LookupError):
    """The gold set's language has no configured NER model; another language's would be meaningless."""


@dataclass(frozen=True)
class GoldSentence:
    tokens: tuple[str, ...]
    tags: tuple[str, ...]  # "O", "B-PER", "I-LOC", ... as in the file


def tag_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """(first token, end token, type) of each entity; reads IOB1 and IOB2 alike.

    An I- tag continues the previous token's entity only when that has the same type; a B- tag
    always starts a new one (in IOB1 it only appears between two adjacent entities of one type).
    """
    spans: list[tuple[int, int, str]] = []
    for index, tag in enumerate(tags):
        prefix, _, kind = tag.partition("-")
        if tag == "O" or not kind:
            continue
        previous = tags[index - 1].partition("-")[2] if index else ""
        if prefix == "I" and previous == kind and spans and spans[-1][1] == index:
            spans[-1] = (spans[-1][0], index + 1, kind)
        else:
            spans.append((index, index + 1, kind))
    return spans


def _split_running_text(sentence: GoldSentence) -> list[GoldSentence]:
    cuts = [
        index + 1
        for index, (token, tag) in enumerate(zip(sentence.tokens, sentence.tags))
        if token in _SENTENCE_END and tag == "O"
    ]
    bounds = list(zip([0, *cuts], [*cuts, len(sentence.tokens)]))
    return [
        GoldSentence(sentence.tokens[start:end], sentence.tags[start:end]) for start, end in bounds if end > start
    ]


def _columns_sentences(lines: Iterable[str]) -> list[GoldSentence]:
    sentences: list[GoldSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    for line in [*lines, ""]:
        columns = line.split()
        if columns and columns[0] != "-DOCSTART-":
            tokens.append(columns[0])
            tags.append(columns[-1])
        elif tokens:
            sentences.append(GoldSentence(tuple(tokens), tuple(tags)))
            tokens, tags = [], []
    if len(sentences) == 1:  # a file without sentence breaks
        return _split_running_text(sentences[0])
    return sentences


def _germeval_sentences(lines: Iterable[str]) -> list[GoldSentence]:
    sentences: list[GoldSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    for line in [*lines, ""]:
        columns = line.rstrip("\n").split("\t")
        if len(columns) >= 3 and columns[0].isdigit():
            tokens.append(columns[1])
            tags.append(columns[2])
        elif tokens:
            sentences.append(GoldSentence(tuple(tokens), tuple(tags)))
            tokens, tags = [], []
    return sentences


def parse_gold(text: str) -> list[GoldSentence]:
    lines = text.splitlines()
    if any(line.startswith("#\t") for line in lines[:50]):
        return _germeval_sentences(lines)
    return _columns_sentences(lines)


def joined_sentence(tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """The tokens joined with spaces, and each token's (start, end) in that text."""
    offsets, position = [], 0
    for token in tokens:
        offsets.append((position, position + len(token)))
        position += len(token) + 1
    return " ".join(tokens), offsets


def gold_spans(sentences: Sequence[GoldSentence]) -> set[Span]:
    spans: set[Span] = set()
    for index, sentence in enumerate(sentences):
        _, offsets = joined_sentence(sentence.tokens)
        for first, end, kind in tag_spans(sentence.tags):
            if label := GOLD_LABELS.get(kind):
                spans.add((index, offsets[first][0], offsets[end - 1][1], label))
    return spans


def predicted_spans(sentences: Sequence[GoldSentence], language: str, config: PipelineConfig) -> set[Span]:
    # As the pipeline does: ASCII quotes for the model, same length so gold offsets still hold.
    units = [
        EntityInput(
            key=index, field="body", offset=0, text=normalise_for_nlp(joined_sentence(sentence.tokens)[0]),
            language=language,
        )
        for index, sentence in enumerate(sentences)
    ]
    return {
        (index, mention.start, mention.end, entity.label)
        for index, tagged in tag_entities(units, config.model_map, config.nlp_batch_size).items()
        for entity in tagged.entities
        for mention in entity.mentions
    }


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _prf(true_positives: int, predicted: int, gold: int) -> dict[str, float]:
    precision, recall = _ratio(true_positives, predicted), _ratio(true_positives, gold)
    return {
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * true_positives, predicted + gold),
    }


def score_spans(gold: set[Span], predicted: set[Span]) -> dict:
    """Exact-span scores per label, and micro-averaged over person/location/organization."""
    def count(spans: set[Span], labels: Iterable[str]) -> int:
        return sum(1 for span in spans if span[3] in labels)

    correct = gold & predicted
    labels = {
        label: {**_prf(count(correct, {label}), count(predicted, {label}), count(gold, {label})),
                "support": count(gold, {label})}
        for label in ALL_LABELS
    }
    micro = _prf(count(correct, SCORED_LABELS), count(predicted, SCORED_LABELS), count(gold, SCORED_LABELS))
    return {"micro": micro, "labels": labels}


def infer_language(path: Path, languages: Sequence[str]) -> str:
    known = set(languages)
    for part in reversed(path.parts):
        for word in re.split(r"[^a-z]+", part.lower()):
            code = _LANGUAGE_ALIASES.get(word, word)
            if code in known:
                return code
    raise ValueError(f"cannot tell the language of {path}; give it explicitly")


def evaluate_ner(path: Path, config: PipelineConfig, language: str | None = None, limit: int | None = None,
                 fold: tuple[int, int] | None = None) -> dict:
    """Scores `tag_entities` on a gold file; `fold` (k, n) keeps the sentences numbered i (from 0,
    in file order) with i % n == k — the held-out fifth of GermEval's test file is (4, 5) —
    and `limit` the first sentences of those."""
    language = language or infer_language(path, config.languages)
    if load_ner_pipeline(language, config.model_map) is None:
        configured = ", ".join(sorted(config.model_map)) or "none"
        raise NerUnavailableError(
            f"no NER model is configured for {language!r} (configured: {configured}); "
            "not running another language's model on it"
        )
    sentences = parse_gold(path.read_text(encoding="utf-8"))
    if fold is not None:
        sentences = [sentence for number, sentence in enumerate(sentences) if number % fold[1] == fold[0]]
    sentences = sentences[:limit]
    started = time.perf_counter()
    predicted = predicted_spans(sentences, language, config)
    elapsed = time.perf_counter() - started
    tokens = sum(len(sentence.tokens) for sentence in sentences)
    return {
        **score_spans(gold_spans(sentences), predicted),
        "tokens_per_s": tokens / elapsed if elapsed else 0.0,
        "sentences": len(sentences),
        "language": language,
    }


def render_ner_report(result: dict) -> str:
    lines = [
        f"NER ({result['language']}): {result['sentences']} sentences, {result['tokens_per_s']:.0f} tokens/s",
        f"{'label':<18}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for label, scores in result["labels"].items():
        figures = "".join(f"{scores[name]:>10.3f}" for name in ("precision", "recall", "f1"))
        lines.append(f"{label:<18}{figures}{scores['support']:>10}")
    micro = result["micro"]
    lines.append(
        f"{'micro PER/LOC/ORG':<18}{micro['precision']:>10.3f}{micro['recall']:>10.3f}{micro['f1']:>10.3f}"
    )
    return "\n".join(lines)
