"""The story stage: each article's near-copy (`duplicate_of`) and story (`story_id`), decided
online in arrival order, after Miranda et al. (EMNLP 2018): an article joins the story of the
stored article it relates to best, above a threshold, or starts one.

- Copies: a MinHash (rensa) of the body's word shingles; stored signatures sharing an LSH band
  are candidates, and a candidate is a copy when the estimated Jaccard, or the share of the
  shorter text contained in the longer, is high. A copy points at the earliest copy.
- Stories: within a language, the cosine of the articles' weightiest analysed terms with their
  shared entities; across languages, shared entity ids (one identity in every language), numbers
  and terms (names stem alike). Only articles within `window` of each other are compared.
- State: signatures are documents (the worker keeps them in Elasticsearch, found by terms), so
  every worker sees the same stories and ids are the first article's. Two workers meeting a new
  event at once start two stories; the first article relating to both merges the later-started
  into the earlier (`StoryMerge`).

Everything here is pure: the lookup (`lookup_query`, or `InMemoryStories` for tests and
evaluations) is handed in.
"""
from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from rensa import RMinHash

from processors.config import StoryConfig
from processors.linking import is_name_id
from schemas import EnrichedArticle
from schemas.stories import StoryMerge, StorySignature

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
MAX_NUMBERS = 30
# What a shared entity weighs against a shared term when fetching candidates: entities are fewer
# and carry across languages.
ENTITY_BOOST = 2.0


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def shingles(body: str, size: int) -> list[str]:
    """The body's distinct runs of `size` words (the whole text when shorter)."""
    words = _WORD.findall(body.casefold())
    if len(words) <= size:
        return [" ".join(words)] if words else []
    return list(dict.fromkeys(" ".join(words[i : i + size]) for i in range(len(words) - size + 1)))


def _bands(minhash: list[int], rows: int) -> list[str]:
    """LSH bands as terms: two signatures sharing one share those `rows` MinHash values."""
    return [f"{start // rows}:" + hashlib.blake2b(repr(minhash[start : start + rows]).encode(), digest_size=8).hexdigest()
            for start in range(0, len(minhash) - rows + 1, rows)]


def _weighted_terms(article: EnrichedArticle, size: int) -> tuple[list[str], list[float]]:
    """The article's `size` weightiest terms (title terms count twice), with unit-length weights."""
    counts = Counter(term for term in article.body_terms.split() if len(term) > 2 and not term.isdigit())
    counts.update({term: 2 * n for term, n in Counter(article.title_terms.split()).items()
                   if len(term) > 2 and not term.isdigit()})
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:size]
    weights = [1.0 + math.log(count) for _, count in top]
    norm = math.sqrt(sum(weight * weight for weight in weights)) or 1.0
    return [term for term, _ in top], [round(weight / norm, 4) for weight in weights]


def _numbers(text: str) -> list[str]:
    found = (re.sub(r"[.,]", "", number) for number in _NUMBER.findall(text))
    return list(dict.fromkeys(number.lstrip("0") or "0" for number in found if len(number) > 1))[:MAX_NUMBERS]


def signature(article: EnrichedArticle, config: StoryConfig) -> StorySignature:
    """What the stage keeps of an article, before any decision."""
    pieces = shingles(article.body, config.shingle_words)
    minhash: list[int] = []
    if pieces:
        sketch = RMinHash(num_perm=config.minhash_permutations, seed=config.minhash_seed)
        sketch.update(pieces)
        minhash = list(sketch.digest())
    terms, weights = _weighted_terms(article, config.story_terms)
    return StorySignature(
        id=article.id, language=article.language, source=article.source, title=article.title,
        published=_aware(article.published_at or article.processed_at), minhash=minhash, shingles=len(pieces),
        bands=_bands(minhash, config.band_rows), terms=terms, weights=weights,
        entity_ids=_story_entity_ids(article), numbers=_numbers(f"{article.title}\n{article.body}"),
    )


# Languages that capitalise every noun: there a single word the model calls a name and the
# knowledge base does not know is as often a noun ("Notenbank", "Leitzins" in two unrelated German
# rate decisions), so it does not make two articles one story.
_NOUNS_CAPITALISED = frozenset({"de", "lb"})


def _story_entity_ids(article: EnrichedArticle) -> list[str]:
    if article.language not in _NOUNS_CAPITALISED:
        return list(dict.fromkeys(article.entity_ids()))
    return list(dict.fromkeys(entity.id for entity in article.entities if entity.id and (
        " " in entity.text.strip() or not is_name_id(entity.id))))


# --- how alike two articles are ------------------------------------------------------------------


def copy_likeness(a: StorySignature, b: StorySignature) -> tuple[float, float]:
    """(estimated Jaccard of the shingle sets, estimated share of the smaller set in the larger)."""
    if not a.minhash or len(a.minhash) != len(b.minhash):
        return 0.0, 0.0
    jaccard = sum(map(int.__eq__, a.minhash, b.minhash)) / len(a.minhash)
    shared = jaccard * (a.shingles + b.shingles) / (1.0 + jaccard)
    return jaccard, min(1.0, shared / max(1, min(a.shingles, b.shingles)))


def is_copy(a: StorySignature, b: StorySignature, config: StoryConfig) -> bool:
    jaccard, containment = copy_likeness(a, b)
    return jaccard >= config.copy_jaccard or (
        containment >= config.copy_containment and min(a.shingles, b.shingles) >= config.min_contained_shingles)


def _term_cosine(a: StorySignature, b: StorySignature) -> float:
    theirs = dict(zip(b.terms, b.weights))
    return sum(weight * theirs.get(term, 0.0) for term, weight in zip(a.terms, a.weights))


def _overlap(a: Sequence[str], b: Sequence[str]) -> float:
    """Cosine of two sets: 1 when equal, 0 when disjoint or either is empty."""
    if not a or not b:
        return 0.0
    return len(set(a) & set(b)) / math.sqrt(len(set(a)) * len(set(b)))


def relatedness(a: StorySignature, b: StorySignature) -> float:
    """How likely two articles report one event, 0 to 1: the stage joins above a threshold."""
    entities = _overlap(a.entity_ids, b.entity_ids)
    if a.language == b.language:
        return 0.7 * _term_cosine(a, b) + 0.3 * entities
    return 0.6 * entities + 0.2 * _overlap(a.numbers, b.numbers) + 0.2 * _term_cosine(a, b)


def join_threshold(a: StorySignature, b: StorySignature, config: StoryConfig) -> float:
    """The relatedness two articles need to be one story. Short texts (a headline, a feed's
    summary) share one word with a score full articles reach only by reporting one event, and the
    join-best-and-merge rule then chains whole topics together: so below `short_text_terms` terms
    the threshold rises linearly towards `short_text_threshold`."""
    base = config.same_language_threshold if a.language == b.language else config.cross_language_threshold
    terms = min(len(a.terms), len(b.terms))
    return base + (config.short_text_threshold - base) * max(0.0, 1.0 - terms / config.short_text_terms)


# --- deciding --------------------------------------------------------------------------------------


def _started(candidate: StorySignature) -> datetime:
    return candidate.story_started or candidate.published


def assign(article: StorySignature, candidates: Iterable[StorySignature],
           config: StoryConfig) -> tuple[StorySignature, list[StoryMerge]]:
    """The article's copy and story among decided `candidates`, and the stories it proves one."""
    near = [c for c in candidates if c.id != article.id and c.story_id
            and abs(c.published - article.published) <= config.window]
    bands = set(article.bands)
    copies = [c for c in near if bands.intersection(c.bands) and is_copy(article, c, config)]
    if copies:
        # The copy most alike; it points at the earliest copy already (or is it).
        best = max(copies, key=lambda c: (copy_likeness(article, c), c.id))
        return article.model_copy(update={"duplicate_of": best.duplicate_of or best.id, "story_id": best.story_id,
                                          "story_started": _started(best)}), []
    best_by_story: dict[str, tuple[float, StorySignature]] = {}
    for candidate in near:
        score = relatedness(article, candidate)
        if score >= join_threshold(article, candidate, config) and score > best_by_story.get(
                candidate.story_id, (0.0,))[0]:  # type: ignore[arg-type]
            best_by_story[candidate.story_id] = (score, candidate)  # type: ignore[index]
    if not best_by_story:
        return article.model_copy(update={"story_id": article.id, "story_started": article.published}), []
    # Every story the article relates to is one story: the earliest started, the others merged in.
    stories = sorted(best_by_story.items(), key=lambda item: (_started(item[1][1]), item[0]))
    (story_id, (_, first)), rest = stories[0], stories[1:]
    merges = [StoryMerge(story_id=other, into=story_id) for other, _ in rest]
    return article.model_copy(update={"story_id": story_id, "story_started": _started(first)}), merges


def assign_batch(signatures: Sequence[StorySignature], found: Sequence[Sequence[StorySignature]],
                 config: StoryConfig) -> tuple[list[StorySignature], list[StoryMerge]]:
    """Decides a batch in order: each article also sees the batch's earlier ones. `found[i]` are
    the stored candidates of `signatures[i]`; a stored decision for the article itself (a replay)
    stands as it was."""
    decided: list[StorySignature] = []
    merges: list[StoryMerge] = []
    renamed: dict[str, str] = {}

    def current(candidate: StorySignature) -> StorySignature:
        story = candidate.story_id
        while story in renamed:
            story = renamed[story]
        return candidate if story == candidate.story_id else candidate.model_copy(update={"story_id": story})

    for article, stored in zip(signatures, found, strict=True):
        replayed = next((c for c in stored if c.id == article.id and c.story_id), None)
        if replayed is not None:
            decided.append(current(replayed))
            continue
        result, merged = assign(article, [current(c) for c in (*stored, *decided)], config)
        for merge in merged:
            renamed[merge.story_id] = merge.into
        merges += merged
        decided.append(result)
    return [current(result) for result in decided], merges


def decided(article: EnrichedArticle, result: StorySignature) -> EnrichedArticle:
    return article.model_copy(update={"duplicate_of": result.duplicate_of, "story_id": result.story_id})


# --- finding candidates ----------------------------------------------------------------------------


def lookup_query(article: StorySignature, config: StoryConfig) -> dict[str, Any]:
    """An Elasticsearch search body for the article's candidates: decided signatures within the
    window, scored by shared bands, terms (by weight) and entities; each clause constant, so the
    score is the sum of what is shared, as `InMemoryStories` computes it."""
    def shared(field_name: str, value: str, boost: float) -> dict[str, Any]:
        return {"constant_score": {"filter": {"term": {field_name: value}}, "boost": boost}}

    should = [shared("bands", band, 1.0) for band in article.bands]
    should += [shared("terms", term, weight) for term, weight in _lookup_terms(article, config)]
    should += [shared("entity_ids", entity, ENTITY_BOOST) for entity in article.entity_ids]
    published = article.published
    return {
        "size": config.candidates,
        "track_total_hits": False,  # only the top hits matter: Lucene may skip what cannot reach them
        "query": {"bool": {
            "should": should, "minimum_should_match": 1,
            "filter": [{"range": {"published": {"gte": (published - config.window).isoformat(),
                                                "lte": (published + config.window).isoformat()}}}],
        }},
    } if should else {"size": 0, "query": {"match_none": {}}}


def _lookup_terms(article: StorySignature, config: StoryConfig) -> list[tuple[str, float]]:
    """The terms, with weights, an article looks its candidates up by (stored weightiest first)."""
    return list(zip(article.terms, article.weights))[: config.lookup_terms]


def retrieval_score(article: StorySignature, stored: StorySignature, config: StoryConfig) -> float:
    """What `lookup_query` scores a stored signature with."""
    weights = dict(_lookup_terms(article, config))
    return (len(set(article.bands) & set(stored.bands)) + sum(weights.get(term, 0.0) for term in stored.terms)
            + ENTITY_BOOST * len(set(article.entity_ids) & set(stored.entity_ids)))


def _postings_keys(signature: StorySignature, terms: Iterable[str]) -> list[str]:
    """Keys of the inverted index: a stored signature is filed under its bands, all its terms and
    its entity ids; an article looks up the same keys but only its lookup terms."""
    return ([f"b:{band}" for band in signature.bands] + [f"t:{term}" for term in terms]
            + [f"e:{entity}" for entity in signature.entity_ids])


@dataclass
class InMemoryStories:
    """The signature store in memory, for tests and evaluations: finds what `lookup_query` would
    (an inverted index over bands, terms and entity ids, as Elasticsearch keeps one)."""

    config: StoryConfig
    stored: dict[str, StorySignature] = field(default_factory=dict)
    postings: dict[str, set[str]] = field(default_factory=dict)

    def candidates(self, signatures: Sequence[StorySignature]) -> list[list[StorySignature]]:
        found = []
        for article in signatures:
            window = self.config.window
            keys = _postings_keys(article, (term for term, _ in _lookup_terms(article, self.config)))
            sharing = set().union(*(self.postings.get(key, ()) for key in keys))
            scored = [(score, stored) for stored in map(self.stored.__getitem__, sharing)
                      if abs(stored.published - article.published) <= window
                      and (score := retrieval_score(article, stored, self.config)) > 0]
            top = sorted(scored, key=lambda item: (-item[0], item[1].id))[: self.config.candidates]
            own = [self.stored[article.id]] if article.id in self.stored else []
            found.append(own + [stored for _, stored in top if stored.id != article.id])
        return found

    def record(self, signatures: Iterable[StorySignature]) -> None:
        for signature in signatures:
            self.stored[signature.id] = signature
            for key in _postings_keys(signature, signature.terms):
                self.postings.setdefault(key, set()).add(signature.id)

    def merge(self, merges: Iterable[StoryMerge]) -> None:
        for merge in merges:
            for key, stored in list(self.stored.items()):
                if stored.story_id == merge.story_id:
                    self.stored[key] = stored.model_copy(update={"story_id": merge.into})

    def assign(self, articles: Sequence[EnrichedArticle]) -> list[EnrichedArticle]:
        """One batch through the stage, as the worker runs it."""
        signatures = [signature(article, self.config) for article in articles]
        results, merges = assign_batch(signatures, self.candidates(signatures), self.config)
        self.record(results)
        self.merge(merges)
        return [decided(article, result) for article, result in zip(articles, results, strict=True)]
