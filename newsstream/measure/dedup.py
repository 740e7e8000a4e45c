"""Near-copy detection (`duplicate_of`, processors/stories.py) against a known truth: how many of
the articles that repeat an earlier one the stage points at it (recall), and how many of its
pointers are right (precision), beside exact-hash dedup on the same articles.

The articles, in arrival order: a corpus's rows (the originals, in file order), then synthetic
copies of some of them and short briefs, shuffled (`random.Random(seed)`: the same seed, the same
articles), every 64 a batch, run through the stage as the worker runs it.

- Real copies: rows whose bodies are the same once casefolded with whitespace collapsed, or
  near-identical: the exact Jaccard of their shingle sets (`shingles`, Python sets, not MinHash)
  is at least 0.9. Groups are the transitive closure of both; any two of a group are copies.
- Synthetic copies of an original, one edit each: `headline` (a new title, the same body),
  `boilerplate` (agency, newsletter or "Read more" paragraphs at the start and/or end), `trim` (the
  last paragraphs, or sentences when there are fewer than four paragraphs, dropped, keeping 60 to
  90 % of the words), `numbers` (every or about half of the numbers changed, as when a toll is
  updated; only bodies with three or more) and `combined` (headline, boilerplate and trim). A copy
  joins its original's group. The boilerplate is English whatever the corpus's language.
- Controls: every article with no earlier member of its group (the corpus's other articles,
  most of them on the same topics: one `category` has hundreds) and short briefs (the lead
  sentence of a held-out row, most with a boilerplate line: short texts sharing boilerplate).
  Any `duplicate_of` on them is a false positive.

A decision is right when its target is in the article's group (any earlier member will do: the
stage points at the earliest copy it knows). Pairs of rows that share much of their text without
being near-identical (exact Jaccard >= 0.5, or >= 80 % of the smaller text, of 20 shingles or
more, in the larger: updated or shortened versions of one report) are "partial copies": not
copies by the rule above, so a pointer between them is a false positive, but counted apart, and a
second precision excuses them.

Only bodies matter to copy detection, so articles are built from the rows without NER or term
analysis (no terms, no entities): `published_at` is a fixed time plus one second per article in
arrival order, all within the stage's window. Candidates are found by `InMemoryStories` (stored
signatures sharing an LSH band, the `candidates` sharing most) and decided by `assign_batch`.

Signatures depend on neither copy threshold, so the threshold sweep computes them, and their
candidates, once. Times are per article: the signature, then candidates and decision at the
configured thresholds."""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from processors.config import StoryConfig
from processors.stories import InMemoryStories, assign_batch, copy_likeness, shingles, signature
from schemas import EnrichedArticle
from schemas.stories import StorySignature

TARGET_PRECISION = 0.99
TARGET_RECALL = 0.95
SWEEP_JACCARD = (0.4, 0.5, 0.6, 0.7, 0.8)
SWEEP_CONTAINMENT = (0.75, 0.85, 0.95)
DEFAULT_THRESHOLDS: tuple[tuple[float, float], ...] = tuple(itertools.product(SWEEP_JACCARD, SWEEP_CONTAINMENT))
BATCH_SIZE = 64
NEAR_IDENTICAL = 0.9  # exact shingle-set Jaccard that makes two rows copies
PARTIAL_JACCARD = 0.5
PARTIAL_CONTAINMENT = 0.8
PARTIAL_MIN_SHINGLES = 20  # as the stage's min_contained_shingles: containment of less proves nothing
MIN_KEEP = 0.6  # share of the words a trimmed copy keeps, at least
MAX_KEEP = 0.9
BRIEF_WORDS = 30
EDIT_KINDS = ("headline", "boilerplate", "trim", "numbers", "combined")
COPY_SETTINGS = ("copy_jaccard", "copy_containment", "min_contained_shingles", "shingle_words",
                 "minhash_permutations", "minhash_seed", "band_rows", "candidates")
BASE_TIME = datetime(2026, 12, 3, tzinfo=timezone.utc)
EXAMPLES = 12

_WORDS = re.compile(r"\w+")
_DIGITS = re.compile(r"\d+")
_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’»)]*\s+(?=[\"'“‘«(]?[A-ZÀ-ÖØ-Þ0-9])")

_HEADLINES = ("UPDATE 1-{title}", "{title}, reports say", "Breaking: {title}", "{title} - latest",
              "{lead}…", "What we know: {title}")
_HEAD_BOILERPLATE = (
    "Advertisement",
    "This story has been updated with new information.",
    "Listen to this article. Audio is generated automatically and may contain errors.",
    "Follow our live coverage for the latest developments.",
)
_TAIL_BOILERPLATE = (
    "Read more: {other}",
    "© AFP 2026. All rights reserved. This material may not be published, broadcast, rewritten or redistributed.",
    "Subscribe to our newsletter to get the day's top stories delivered to your inbox every morning.",
    "Follow us on Facebook, Twitter and Instagram for more news and updates.",
    "Reporting by {name}; editing by {editor}.",
    "Copyright 2026 The Associated Press. All rights reserved.",
)
_NAMES = ("Anna Keller", "Tom Okafor", "Maria Rossi", "Jean Dupont", "Li Wei", "Sara Lindqvist")


def load_news_rows(path: Path) -> list[dict[str, Any]]:
    """One corpus's JSON Lines rows (title, body, and id, lang, category, … when present), in file
    order: `bench.load_rows` interleaves several corpora and brings the benchmark's imports."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def normalised_body(body: str) -> str:
    return " ".join(body.casefold().split())


def body_hash(body: str) -> str:
    """What exact-hash dedup compares."""
    return hashlib.sha1(normalised_body(body).encode()).hexdigest()


# --- results -------------------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 1.0


@dataclass(frozen=True)
class Score:
    predicted: int  # articles given a duplicate_of
    correct: int  # of those, pointing into the article's own group
    expected: int  # articles with an earlier member of their group
    partial: int = 0  # wrong pointers between partial copies (see the module's docstring)

    @property
    def precision(self) -> float:
        return _ratio(self.correct, self.predicted)

    @property
    def precision_excusing_partial(self) -> float:
        return _ratio(self.correct + self.partial, self.predicted)

    @property
    def recall(self) -> float:
        return _ratio(self.correct, self.expected)

    @property
    def false_positives(self) -> int:
        return self.predicted - self.correct

    @property
    def meets_target(self) -> bool:
        return self.precision >= TARGET_PRECISION and self.recall >= TARGET_RECALL

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "precision": self.precision,
                "precision_excusing_partial": self.precision_excusing_partial, "recall": self.recall,
                "false_positives": self.false_positives, "meets_target": self.meets_target}


@dataclass(frozen=True)
class KindRecall:
    kind: str  # "real" or an edit kind
    articles: int  # articles of this kind with an earlier copy
    stage: int  # found by the stage
    baseline: int  # found by exact-hash dedup

    def as_dict(self) -> dict[str, Any]:
        # None, not a vacuous 1.0, for a kind with no articles (a corpus without real copies)
        return {**asdict(self), "stage_recall": _ratio(self.stage, self.articles) if self.articles else None,
                "baseline_recall": _ratio(self.baseline, self.articles) if self.articles else None}


@dataclass(frozen=True)
class ControlResult:
    kind: str  # "originals" (corpus rows with no earlier copy) or "briefs"
    articles: int
    compared: int  # sharing an LSH band with an earlier article: decided on likeness, not retrieval
    false_positives: int
    same_category: int  # of which pointing at an article of the same category
    baseline_false_positives: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SweepPoint:
    copy_jaccard: float
    copy_containment: float
    score: Score

    def as_dict(self) -> dict[str, Any]:
        return {"copy_jaccard": self.copy_jaccard, "copy_containment": self.copy_containment, **self.score.as_dict()}


@dataclass(frozen=True)
class Example:
    """A miss or a false positive, with how alike the two texts are: exactly and as estimated."""

    article: str
    kind: str
    predicted: str | None
    other: str  # the target for a false positive, the earliest earlier copy for a miss
    jaccard: float
    containment: float
    estimated_jaccard: float
    estimated_containment: float
    partial: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DedupReport:
    corpus: str
    seed: int
    config: dict[str, Any]  # the copy-detection settings the stage ran with
    articles: int
    skipped_rows: int  # rows without a word of body
    originals: int
    real_groups: int  # groups of two rows or more
    real_copies: int  # rows with an earlier row of their group
    near_identical_pairs: int  # pairs joined by exact Jaccard >= 0.9 only, not by the normalised body
    partial_pairs: int
    synthetic: dict[str, int]
    controls: tuple[ControlResult, ...]
    stage: Score
    baseline: Score
    kinds: tuple[KindRecall, ...]
    sweep: tuple[SweepPoint, ...]
    misses: tuple[Example, ...]
    false_positives: tuple[Example, ...]
    signature_ms_per_article: float
    decision_ms_per_article: float
    total_s: float

    def as_dict(self) -> dict[str, Any]:
        return {
            **{key: getattr(self, key) for key in (
                "corpus", "seed", "config", "articles", "skipped_rows", "originals", "real_groups", "real_copies",
                "near_identical_pairs", "partial_pairs", "synthetic", "signature_ms_per_article",
                "decision_ms_per_article", "total_s")},
            "targets": {"precision": TARGET_PRECISION, "recall": TARGET_RECALL},
            "controls": [control.as_dict() for control in self.controls],
            "stage": self.stage.as_dict(), "baseline": self.baseline.as_dict(),
            "kinds": [kind.as_dict() for kind in self.kinds],
            "sweep": [point.as_dict() for point in self.sweep],
            "misses": [example.as_dict() for example in self.misses],
            "false_positives": [example.as_dict() for example in self.false_positives],
        }


# --- the truth among the rows ----------------------------------------------------------------------


def similar_pairs(sets: Sequence[set[str]]) -> dict[tuple[int, int], tuple[float, float]]:
    """Pairs (i < j) whose exact Jaccard is >= PARTIAL_JACCARD or whose smaller set (of
    PARTIAL_MIN_SHINGLES or more) is >= PARTIAL_CONTAINMENT in the larger: (Jaccard, containment).

    A prefix filter keeps it exact without comparing every pair: either bound means the pair
    shares at least a share s of the smaller set, so the smaller set's rarest |x| - ceil(s|x|) + 1
    shingles include a shared one, and only sets holding one of those are compared."""
    share = min(2 * PARTIAL_JACCARD / (1 + PARTIAL_JACCARD), PARTIAL_CONTAINMENT)
    frequency = Counter(piece for pieces in sets for piece in pieces)
    index: dict[str, list[int]] = defaultdict(list)
    for number, pieces in enumerate(sets):
        for piece in pieces:
            index[piece].append(number)
    found: dict[tuple[int, int], tuple[float, float]] = {}
    for number, pieces in enumerate(sets):
        size = len(pieces)
        if not size:
            continue
        prefix = size - math.ceil(share * size - 1e-9) + 1
        rarest = sorted(pieces, key=lambda piece: (frequency[piece], piece))[:prefix]
        # Each pair once, probed from its smaller set (the earlier row on a tie).
        others = {other for piece in rarest for other in index[piece]
                  if len(sets[other]) > size or (len(sets[other]) == size and other > number)}
        for other in others:
            shared = len(pieces & sets[other])
            jaccard = shared / (size + len(sets[other]) - shared)
            containment = shared / size
            if jaccard >= PARTIAL_JACCARD or (containment >= PARTIAL_CONTAINMENT and size >= PARTIAL_MIN_SHINGLES):
                found[(min(number, other), max(number, other))] = (round(jaccard, 4), round(containment, 4))
    return found


def _groups(count: int, joined: Sequence[tuple[int, int]]) -> list[int]:
    """Union-find: each row's group, named by its first row."""
    parent = list(range(count))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in joined:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [root(node) for node in range(count)]


# --- synthetic copies --------------------------------------------------------------------------------


def paragraphs(body: str) -> list[str]:
    return [part.strip() for part in _PARAGRAPHS.split(body) if part.strip()]


def _word_count(text: str) -> int:
    return len(_WORDS.findall(text))


def _trim_units(body: str) -> tuple[list[str], str] | None:
    """What a trim drops from the end: paragraphs, or sentences for bodies of fewer than four
    paragraphs and 150 words or more; None when there are too few."""
    parts = paragraphs(body)
    if len(parts) >= 4:
        return parts, "\n\n"
    sentences = [part for part in _SENTENCE_END.split(body.strip()) if part.strip()]
    if len(sentences) >= 4 and _word_count(body) >= 150:
        return sentences, " "
    return None


def trimmed(body: str, rng: random.Random) -> str | None:
    """The body without its last units, keeping MIN_KEEP to MAX_KEEP of its words; None if it cannot."""
    units = _trim_units(body)
    if units is None:
        return None
    parts, joiner = units
    counts = list(itertools.accumulate(_word_count(part) for part in parts))
    total = counts[-1]
    goal = rng.uniform(MIN_KEEP, MAX_KEEP) * total
    # The fewest units reaching the goal, at least one dropped, never under MIN_KEEP.
    keep = next(number for number, count in enumerate(counts, 1) if count >= goal)
    keep = min(keep, len(parts) - 1)
    if counts[keep - 1] < MIN_KEEP * total:
        return None
    return joiner.join(parts[:keep])


def numbers_changed(body: str, rng: random.Random) -> str | None:
    """The body with every, or about half, of its numbers changed; None with fewer than three."""
    runs = _DIGITS.findall(body)
    if len(runs) < 3:
        return None
    every = rng.random() < 0.5
    chosen = set(range(len(runs))) if every else {n for n in range(len(runs)) if rng.random() < 0.5} or {0}
    position = itertools.count()

    def change(match: re.Match[str]) -> str:
        if next(position) not in chosen:
            return match.group()
        value = int(match.group())
        return str(value + rng.randint(1, max(1, value // 4)))

    return _DIGITS.sub(change, body)


def with_boilerplate(body: str, rng: random.Random, other_title: str) -> str:
    def fill(line: str) -> str:
        name, editor = rng.sample(_NAMES, 2)
        return line.format(other=other_title, name=name, editor=editor)

    where = rng.choice(("start", "end", "both"))
    head = [fill(line) for line in rng.sample(_HEAD_BOILERPLATE, rng.randint(1, 2))] if where != "end" else []
    tail = [fill(line) for line in rng.sample(_TAIL_BOILERPLATE, rng.randint(1, 2))] if where != "start" else []
    return "\n\n".join([*head, body, *tail])


def new_headline(title: str, body: str, rng: random.Random) -> str:
    lead = " ".join(body.split()[:8])
    return rng.choice(_HEADLINES).format(title=title, lead=lead)


def brief(body: str, rng: random.Random, other_title: str) -> str:
    """A short brief from a body's lead sentence, most with a boilerplate line."""
    lead = " ".join(_SENTENCE_END.split(body.strip(), maxsplit=1)[0].split()[:BRIEF_WORDS])
    if rng.random() < 0.7:
        line = rng.choice(_TAIL_BOILERPLATE).format(other=other_title, name=_NAMES[0], editor=_NAMES[1])
        return f"{lead}\n\n{line}"
    return lead


@dataclass(frozen=True)
class _Item:
    id: str
    title: str
    body: str
    language: str
    category: str
    kind: str  # "original", an edit kind, or "brief"
    group: str  # copies share one
    row: int  # the corpus row it comes from


def _copy(original: _Item, kind: str, rng: random.Random, titles: Sequence[str]) -> _Item | None:
    """The original after one edit, in its group; None when the edit cannot be made."""
    title, body = original.title, original.body
    edited: str | None = body
    if kind == "headline":
        title = new_headline(title, body, rng)
    elif kind == "boilerplate":
        edited = with_boilerplate(body, rng, rng.choice(titles))
    elif kind == "trim":
        edited = trimmed(body, rng)
    elif kind == "numbers":
        edited = numbers_changed(body, rng)
    elif kind == "combined":
        cut = trimmed(body, rng)
        title = new_headline(title, body, rng)
        edited = None if cut is None else with_boilerplate(cut, rng, rng.choice(titles))
    if edited is None:
        return None
    return replace(original, id=f"{original.id}~{kind}", title=title, body=edited, kind=kind)


def _eligible(item: _Item, kind: str) -> bool:
    if kind in ("trim", "combined"):
        return _trim_units(item.body) is not None
    if kind == "numbers":
        return len(_DIGITS.findall(item.body)) >= 3
    return True


# --- running the stage ------------------------------------------------------------------------------


def _article(item: _Item, arrival: int) -> EnrichedArticle:
    return EnrichedArticle(id=item.id, title=item.title, body=item.body, language=item.language, languages=[],
                           source=None, published_at=BASE_TIME + timedelta(seconds=arrival))


def retrieve(signatures: Sequence[StorySignature], config: StoryConfig,
             batch_size: int = BATCH_SIZE) -> list[list[int]]:
    """Each signature's stored candidates (by position) as `InMemoryStories` finds them among
    earlier batches. Without terms or entities bands are the whole score, and decisions change no
    band, so the undecided signatures find what the decided ones would: found once for the sweep."""
    store = InMemoryStories(config)
    position = {signature.id: number for number, signature in enumerate(signatures)}
    found: list[list[int]] = []
    for start in range(0, len(signatures), batch_size):
        batch = signatures[start:start + batch_size]
        found += [[position[candidate.id] for candidate in candidates] for candidates in store.candidates(batch)]
        store.record(batch)
    return found


def decide(signatures: Sequence[StorySignature], found: Sequence[Sequence[int]], config: StoryConfig,
           batch_size: int = BATCH_SIZE) -> list[str | None]:
    """Each article's duplicate_of, batch by batch through `assign_batch`. Story merges rename
    story ids only, which copy decisions do not read, so they are not applied."""
    decided: list[StorySignature] = []
    for start in range(0, len(signatures), batch_size):
        batch = range(start, min(len(signatures), start + batch_size))
        results, _ = assign_batch([signatures[n] for n in batch],
                                  [[decided[other] for other in found[n]] for n in batch], config)
        decided += results
    return [result.duplicate_of for result in decided]


def exact_hash_dedup(bodies: Sequence[str]) -> list[int | None]:
    """The baseline: the position of the first earlier body with the same normalised body's sha1."""
    first: dict[str, int] = {}
    out: list[int | None] = []
    for number, body in enumerate(bodies):
        key = body_hash(body)
        out.append(first.get(key))
        first.setdefault(key, number)
    return out


# --- evaluating ---------------------------------------------------------------------------------------


def _rows_to_items(rows: Sequence[Mapping[str, Any]]) -> tuple[list[_Item], int]:
    items, seen, skipped = [], Counter[str](), 0
    for number, row in enumerate(rows):
        body = str(row.get("body") or "")
        if not _WORDS.search(body):
            skipped += 1
            continue
        identifier = str(row.get("id") or row.get("url") or f"row-{number}")
        seen[identifier] += 1
        if seen[identifier] > 1:  # the stage keys on ids: two rows must not share one
            identifier = f"{identifier}#{seen[identifier]}"
        items.append(_Item(id=identifier, title=str(row.get("title") or ""), body=body,
                           language=str(row.get("lang") or row.get("language") or "und"),
                           category=str(row.get("category") or ""), kind="original", group="", row=number))
    return items, skipped


def _score(groups: Sequence[str], predicted: Sequence[int | None],
           partial_groups: set[frozenset[str]]) -> tuple[Score, list[bool], list[bool]]:
    """The score, and per article whether it has an earlier copy and whether its pointer is right."""
    seen: set[str] = set()
    expected, correct = [], []
    for number, group in enumerate(groups):
        expected.append(group in seen)
        seen.add(group)
        target = predicted[number]
        correct.append(target is not None and groups[target] == group)
    partial = sum(1 for number, target in enumerate(predicted) if target is not None and not correct[number]
                  and frozenset((groups[target], groups[number])) in partial_groups)
    score = Score(predicted=sum(target is not None for target in predicted), correct=sum(correct),
                  expected=sum(expected), partial=partial)
    return score, expected, correct


def evaluate_dedup(rows: Sequence[Mapping[str, Any]], config: StoryConfig | None = None, seed: int = 20261203,
                   thresholds: Sequence[tuple[float, float]] = DEFAULT_THRESHOLDS, copies_per_kind: int = 200,
                   briefs: int = 100, batch_size: int = BATCH_SIZE, corpus: str = "",
                   progress: Callable[[str], None] | None = None) -> DedupReport:
    """The stage at `config`'s thresholds and at each (copy_jaccard, copy_containment) of
    `thresholds`, and exact-hash dedup, on the rows and their synthetic copies (`copies_per_kind`
    of each edit, fewer when fewer rows allow it) and `briefs` briefs (at most a tenth of the rows)."""
    config = config or StoryConfig()
    say = progress or (lambda message: None)
    started = time.perf_counter()
    rng = random.Random(seed)
    items, skipped = _rows_to_items(rows)

    # The truth among the rows.
    sets = [set(shingles(item.body, config.shingle_words)) for item in items]
    pairs = similar_pairs(sets)
    by_body: dict[str, int] = {}
    same_body = [(by_body.setdefault(normalised_body(item.body), number), number) for number, item in enumerate(items)]
    identical = [pair for pair, (jaccard, _) in pairs.items() if jaccard >= NEAR_IDENTICAL]
    roots = _groups(len(items), [*same_body, *identical])
    body_roots = _groups(len(items), same_body)
    items = [replace(item, group=items[root].id) for item, root in zip(items, roots, strict=True)]
    members = Counter(roots)
    partial = {pair: value for pair, value in pairs.items() if roots[pair[0]] != roots[pair[1]]}
    say(f"{len(items)} rows: {sum(1 for n in members.values() if n > 1)} copy groups, {len(partial)} partial copies "
        f"({time.perf_counter() - started:.1f} s)")

    # Briefs come from rows held out, with no copy of any kind, so that no other text holds them.
    paired = {number for pair in pairs for number in pair}
    loners = [n for n, item in enumerate(items) if members[roots[n]] == 1 and n not in paired]
    held = set(rng.sample(loners, min(briefs, len(items) // 10, len(loners))))
    originals = [item for number, item in enumerate(items) if number not in held]
    titles = [item.title for item in originals]
    extra: list[_Item] = [
        replace(items[n], id=f"{items[n].id}~brief", kind="brief", group=f"{items[n].id}~brief",
                body=brief(items[n].body, rng, rng.choice(titles)))
        for n in sorted(held)]
    synthetic: dict[str, int] = {}
    for kind in EDIT_KINDS:
        eligible = [item for item in originals if _eligible(item, kind)]
        rng.shuffle(eligible)
        made: list[_Item] = []
        for item in eligible:  # in turn until enough: an edit may turn out impossible (a trim too deep)
            if len(made) == copies_per_kind:
                break
            if (copy := _copy(item, kind, rng, titles)) is not None:
                made.append(copy)
        synthetic[kind] = len(made)
        extra += made
    rng.shuffle(extra)
    stream = originals + extra
    groups = [item.group for item in stream]
    partial_groups = {frozenset((items[a].group, items[b].group)) for a, b in partial}

    # Signatures once; candidates once (they depend on bands only).
    clock = time.perf_counter()
    signatures = [signature(_article(item, arrival), config) for arrival, item in enumerate(stream)]
    signature_s = time.perf_counter() - clock
    say(f"{len(stream)} articles signed in {signature_s:.1f} s")
    clock = time.perf_counter()
    found = retrieve(signatures, config, batch_size)
    retrieve_s = time.perf_counter() - clock
    position = {item.id: number for number, item in enumerate(stream)}

    def run(setting: StoryConfig) -> list[int | None]:
        decisions = decide(signatures, found, setting, batch_size)
        return [None if target is None else position[target] for target in decisions]

    clock = time.perf_counter()
    predicted = run(config)
    decision_s = retrieve_s + time.perf_counter() - clock
    stage, expected, correct = _score(groups, predicted, partial_groups)
    baseline_predicted = exact_hash_dedup([item.body for item in stream])
    baseline, _, baseline_correct = _score(groups, baseline_predicted, partial_groups)

    kinds = tuple(KindRecall(
        kind=kind, articles=sum(1 for n, item in enumerate(stream) if expected[n] and item.kind == label),
        stage=sum(1 for n, item in enumerate(stream) if expected[n] and item.kind == label and correct[n]),
        baseline=sum(1 for n, item in enumerate(stream) if expected[n] and item.kind == label and baseline_correct[n]),
    ) for kind, label in (("real", "original"), *((kind, kind) for kind in EDIT_KINDS)))

    # Which control articles met an earlier one sharing a band, in a stored batch or their own.
    bands_seen: dict[str, int] = {}
    compared = []
    for sig in signatures:
        compared.append(any(band in bands_seen for band in sig.bands))
        for band in sig.bands:
            bands_seen.setdefault(band, 1)
    controls = []
    for kind, label in (("originals", "original"), ("briefs", "brief")):
        chosen = [n for n, item in enumerate(stream) if item.kind == label and not expected[n]]
        wrong = [(n, target) for n in chosen if (target := predicted[n]) is not None]
        controls.append(ControlResult(
            kind=kind, articles=len(chosen), compared=sum(compared[n] for n in chosen), false_positives=len(wrong),
            same_category=sum(1 for n, target in wrong if stream[target].category == stream[n].category),
            baseline_false_positives=sum(1 for n in chosen if baseline_predicted[n] is not None)))

    sweep = []
    for number, (jaccard, containment) in enumerate(thresholds, 1):
        setting = replace(config, copy_jaccard=jaccard, copy_containment=containment)
        score = stage if setting == config else _score(groups, run(setting), partial_groups)[0]
        sweep.append(SweepPoint(copy_jaccard=jaccard, copy_containment=containment, score=score))
        say(f"sweep {number}/{len(thresholds)}: jaccard {jaccard:.2f}, containment {containment:.2f}: "
            f"precision {score.precision:.4f}, recall {score.recall:.4f}")

    def example(number: int, other: int) -> Example:
        a, b = (set(shingles(stream[n].body, config.shingle_words)) for n in (number, other))
        shared = len(a & b)
        estimated = copy_likeness(signatures[number], signatures[other])
        target = predicted[number]
        return Example(
            article=stream[number].id, kind=stream[number].kind,
            predicted=None if target is None else stream[target].id,
            other=stream[other].id, jaccard=round(shared / max(1, len(a | b)), 4),
            containment=round(shared / max(1, min(len(a), len(b))), 4),
            estimated_jaccard=round(estimated[0], 4), estimated_containment=round(estimated[1], 4),
            partial=target is not None and frozenset((groups[target], groups[number])) in partial_groups)

    first_of: dict[str, int] = {}
    for number, group in enumerate(groups):
        first_of.setdefault(group, number)
    misses = tuple(example(n, first_of[groups[n]]) for n in range(len(stream)) if expected[n] and not correct[n])
    wrong = tuple(example(n, target) for n, target in enumerate(predicted) if target is not None and not correct[n])

    return DedupReport(
        corpus=corpus, seed=seed,
        config={key: getattr(config, key) for key in COPY_SETTINGS},
        articles=len(stream), skipped_rows=skipped, originals=len(originals),
        real_groups=sum(1 for n in members.values() if n > 1), real_copies=kinds[0].articles,
        near_identical_pairs=sum(1 for a, b in identical if body_roots[a] != body_roots[b]),
        partial_pairs=len(partial), synthetic=synthetic, controls=tuple(controls), stage=stage, baseline=baseline,
        kinds=kinds, sweep=tuple(sweep), misses=misses[:EXAMPLES], false_positives=wrong[:EXAMPLES],
        signature_ms_per_article=round(1000 * signature_s / max(1, len(stream)), 3),
        decision_ms_per_article=round(1000 * decision_s / max(1, len(stream)), 3),
        total_s=round(time.perf_counter() - started, 2),
    )


# --- rendering -----------------------------------------------------------------------------------------


def render_dedup(report: DedupReport) -> str:
    config = report.config
    synthetic = ", ".join(f"{kind} {count}" for kind, count in report.synthetic.items())
    lines = [
        f"Near-copy detection{f' on {report.corpus}' if report.corpus else ''} (seed {report.seed}): "
        f"{report.articles} articles in arrival order, batches of {BATCH_SIZE}",
        f"  originals {report.originals}: {report.real_groups} real copy groups, {report.real_copies} later members "
        f"({report.near_identical_pairs} pairs near-identical only), {report.partial_pairs} partial-copy pairs"
        + (f"; {report.skipped_rows} rows without a body skipped" if report.skipped_rows else ""),
        f"  synthetic copies: {synthetic}",
        f"  controls: {', '.join(f'{c.articles} {c.kind}' for c in report.controls)}",
        "",
        f"  {'':<34}{'precision':>10}{'(partial ok)':>13}{'recall':>8}{'predicted':>10}{'correct':>8}{'expected':>9}",
    ]
    for label, score in ((f"stage (J >= {config['copy_jaccard']:.2f} or C >= {config['copy_containment']:.2f})",
                          report.stage), ("exact hash (sha1, normalised body)", report.baseline)):
        lines.append(f"  {label:<34}{score.precision:>10.4f}{score.precision_excusing_partial:>13.4f}"
                     f"{score.recall:>8.4f}{score.predicted:>10}{score.correct:>8}{score.expected:>9}")
    verdict = "meets" if report.stage.meets_target else "misses"
    lines += [f"  the stage {verdict} the targets (precision >= {TARGET_PRECISION}, recall >= {TARGET_RECALL})", "",
              f"  {'recall by kind':<16}{'articles':>9}{'stage':>8}{'exact hash':>12}"]
    for kind in report.kinds:
        row = kind.as_dict()
        stage, baseline = ((f"{row[key]:.3f}" if kind.articles else "-") for key in ("stage_recall", "baseline_recall"))
        lines.append(f"  {kind.kind:<16}{kind.articles:>9}{stage:>8}{baseline:>12}")
    lines += ["", f"  {'controls':<16}{'articles':>9}{'compared':>10}{'false pos.':>12}{'same cat.':>11}"
                  f"{'exact hash':>12}"]
    for control in report.controls:
        lines.append(f"  {control.kind:<16}{control.articles:>9}{control.compared:>10}{control.false_positives:>12}"
                     f"{control.same_category:>11}{control.baseline_false_positives:>12}")
    if report.sweep:
        lines += ["", "  threshold sweep (J: copy_jaccard, C: copy_containment; * meets both targets)",
                  f"  {'J':>6}{'C':>6}{'precision':>11}{'(partial ok)':>13}{'recall':>8}{'false pos.':>12}"
                  f"{'missed':>8}"]
        for point in report.sweep:
            score = point.score
            lines.append(f"  {point.copy_jaccard:>6.2f}{point.copy_containment:>6.2f}{score.precision:>11.4f}"
                         f"{score.precision_excusing_partial:>13.4f}{score.recall:>8.4f}{score.false_positives:>12}"
                         f"{score.expected - score.correct:>8}{' *' if score.meets_target else ''}")
    for title, examples, total in (("misses", report.misses, report.stage.expected - report.stage.correct),
                                   ("false positives", report.false_positives, report.stage.false_positives)):
        if examples:
            lines += ["", f"  {title} ({len(examples)} of {total}; exact J / C, then MinHash estimates):"]
            lines += [f"    {e.article} [{e.kind}] -> {e.predicted or '-'} (vs {e.other}): {e.jaccard:.2f} / "
                      f"{e.containment:.2f}, est. {e.estimated_jaccard:.2f} / {e.estimated_containment:.2f}"
                      f"{' partial copy' if e.partial else ''}" for e in examples]
    lines += ["", f"  time: signature {report.signature_ms_per_article:.3f} ms/article, candidates and decision "
                  f"{report.decision_ms_per_article:.3f} ms/article; {report.total_s:.1f} s in all"]
    return "\n".join(lines)
