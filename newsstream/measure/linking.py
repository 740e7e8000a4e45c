"""Entity linking against gold sets, given the gold mentions: how often the linker's id is the gold QID.

Given-mention evaluation: the gold mentions of each article become the linker's input (one
`Entity` per distinct surface form and label, with all its mentions), the linker runs once per
article, and each gold mention with a gold QID is looked up in its output by offsets (the linker
may merge entities, so list positions mean nothing): **right** (its id is the gold QID), **wrong**
(another QID) or **unlinked** (no QID: a `per:…`/`geonames:…` key, no id, or the mention dropped).
Gold mentions marked NIL (no Wikidata item) are not in those shares; how many of them the linker
still gave a QID is counted beside them.

Formats (by extension, else by content):
- elevant: ELEVANT's benchmark JSON Lines (`ad-freiburg/elevant`, benchmarks/*.benchmark.jsonl),
  one article a line: `text` and `labels`, each label with `span` (characters of `text`),
  `entity_id` (a QID, `<NIL>`, or something else when the original could not be mapped), `name`,
  `type` (QIDs joined by `|`, or QUANTITY / DATETIME / OTHER) and the flags `coref` (a pronoun or
  nominal coreference, not a name: left out), `optional` and `desc` (left out, as quantities and
  dates are: ELEVANT counts them optional). The language is English.
- hipe: CLEF-HIPE-2020 TSV (`impresso/CLEF-HIPE-2020`, data/v1.4), one token a line under a header
  naming the columns, `# document_id = …` starting each document and `# language = …`; mentions are
  the BIO tags of NE-COARSE-LIT (pers, loc, org, prod, time), their link NEL-LIT (a QID, NIL or
  `_`). The text is rebuilt from the tokens, one space between tokens unless MISC says
  NoSpaceAfter (EndOfLine hyphenation is not undone).
"""
from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from schemas.articles import Entity, EntityLabel, Mention

SCORED_LABELS: tuple[EntityLabel, ...] = ("person", "location", "organization")
ALL_LABELS: tuple[EntityLabel, ...] = (*SCORED_LABELS, "misc")
GoldFormat = Literal["elevant", "hipe"]
GoldStatus = Literal["qid", "nil", "unknown"]
Linker = Callable[[list[Entity], str], list[Entity]]

_QID = re.compile(r"Q[1-9][0-9]*")
# ELEVANT's types (small-data-files/whitelist_types.tsv) or coarse names, in order of precedence:
# "Q27096213|Q43229" (a country, also a state) is a location, "Q2424752|Q43229" (a company that is
# also a product) an organization.
_ELEVANT_LABELS: tuple[tuple[EntityLabel, frozenset[str]], ...] = (
    ("person", frozenset({"Q215627", "Q5", "Q95074", "PERSON", "PER"})),
    ("location", frozenset({"Q27096213", "Q3895768", "Q2221906", "LOCATION", "LOC"})),
    ("organization", frozenset({"Q43229", "ORGANIZATION", "ORG"})),
)
_ELEVANT_OPTIONAL_TYPES = frozenset({"QUANTITY", "DATETIME"})
_HIPE_LABELS: dict[str, EntityLabel] = {"pers": "person", "loc": "location", "org": "organization",
                                        "prod": "misc", "time": "misc"}
_LANGUAGE_WORDS = {"en": "en", "eng": "en", "english": "en", "fr": "fr", "fra": "fr", "fre": "fr",
                   "french": "fr", "de": "de", "deu": "de", "ger": "de", "german": "de", "es": "es",
                   "nl": "nl", "it": "it"}


def is_qid(identifier: str | None) -> bool:
    return bool(identifier) and _QID.fullmatch(identifier) is not None


@dataclass(frozen=True)
class GoldMention:
    start: int  # characters of the article's text
    end: int
    text: str
    label: EntityLabel
    status: GoldStatus  # qid: linked in the gold; nil: no Wikidata item; unknown: the gold cannot say
    qid: str = ""  # the gold QID when status is "qid"
    name: str = ""  # the gold entity's name, when the gold set has one


@dataclass(frozen=True)
class GoldArticle:
    id: str
    text: str
    language: str
    mentions: tuple[GoldMention, ...]
    skipped: int = 0  # gold labels left out: coreferences, optional ones, quantities, dates


# ---------------------------------------------------------------------------------------------- readers

def elevant_label(types: str) -> EntityLabel:
    kinds = set(types.split("|"))
    return next((label for label, names in _ELEVANT_LABELS if kinds & names), "misc")


def read_elevant(lines: Iterable[str], language: str = "en") -> list[GoldArticle]:
    articles = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        row = json.loads(line)
        text = row["text"]
        mentions: dict[tuple[int, int], GoldMention] = {}
        skipped = 0
        for label in row.get("labels", []):
            types = str(label.get("type") or "OTHER")
            if (label.get("coref") or label.get("optional") or label.get("desc")
                    or _ELEVANT_OPTIONAL_TYPES & set(types.split("|"))):
                skipped += 1
                continue
            start, end = label["span"]
            entity_id = str(label.get("entity_id") or "")
            status: GoldStatus = "qid" if is_qid(entity_id) else "nil" if entity_id == "<NIL>" else "unknown"
            mentions.setdefault((start, end), GoldMention(
                start=start, end=end, text=text[start:end], label=elevant_label(types), status=status,
                qid=entity_id if status == "qid" else "", name=str(label.get("name") or "") if status == "qid" else "",
            ))
        articles.append(GoldArticle(id=str(row.get("id", number)), text=text, language=language,
                                    mentions=tuple(sorted(mentions.values(), key=lambda m: (m.start, m.end))),
                                    skipped=skipped))
    return articles


class _HipeDocument:
    def __init__(self, identifier: str, language: str) -> None:
        self.id, self.language = identifier, language
        self.parts: list[str] = []
        self.length = 0
        self.space_pending = False
        # open mention: [start, end, kind, link]
        self.open: list | None = None
        self.spans: list[tuple[int, int, str, str]] = []

    def add(self, token: str, tag: str, link: str, misc: str) -> None:
        if self.space_pending:
            self.parts.append(" ")
            self.length += 1
        start = self.length
        self.parts.append(token)
        self.length += len(token)
        self.space_pending = "NoSpaceAfter" not in misc.split("|")
        prefix, _, kind = tag.partition("-")
        if tag == "O" or not kind:
            self.close()
        elif prefix == "I" and self.open is not None and self.open[2] == kind:
            self.open[1] = self.length
        else:
            self.close()
            self.open = [start, self.length, kind, link]

    def close(self) -> None:
        if self.open is not None:
            self.spans.append(tuple(self.open))  # type: ignore[arg-type]
            self.open = None

    def article(self) -> GoldArticle:
        self.close()
        text = "".join(self.parts)
        mentions = []
        for start, end, kind, link in self.spans:
            status: GoldStatus = "qid" if is_qid(link) else "nil" if link == "NIL" else "unknown"
            mentions.append(GoldMention(start=start, end=end, text=text[start:end],
                                        label=_HIPE_LABELS.get(kind.lower(), "misc"), status=status,
                                        qid=link if status == "qid" else ""))
        return GoldArticle(id=self.id, text=text, language=self.language, mentions=tuple(mentions))


def read_hipe(lines: Iterable[str], language: str = "und") -> list[GoldArticle]:
    """`language` is for documents without a `# language = …` line."""
    columns = {"TOKEN": 0, "NE-COARSE-LIT": 1, "NEL-LIT": 7, "MISC": 9}
    documents: list[_HipeDocument] = []
    pending_language = language
    for raw in lines:
        line = raw.rstrip("\n").rstrip("\r")
        if line.startswith("TOKEN\t"):
            columns = {name: index for index, name in enumerate(line.split("\t"))}
            continue
        if line.startswith("# ") and " = " in line:
            key, _, value = line[2:].partition(" = ")
            key, value = key.strip(), value.strip()
            if key == "document_id":
                documents.append(_HipeDocument(value, pending_language))
            elif key == "language":
                pending_language = value
                if documents and not documents[-1].parts:
                    documents[-1].language = value
            continue
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) <= max(columns["NE-COARSE-LIT"], columns["NEL-LIT"]):
            continue
        if not documents:
            documents.append(_HipeDocument(str(len(documents)), pending_language))
        misc_column = columns.get("MISC", len(cells))
        misc = cells[misc_column] if misc_column < len(cells) else ""
        documents[-1].add(cells[columns["TOKEN"]], cells[columns["NE-COARSE-LIT"]], cells[columns["NEL-LIT"]], misc)
    return [document.article() for document in documents]


def detect_format(path: Path) -> GoldFormat:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return "elevant"
    if suffix == ".tsv":
        return "hipe"
    with path.open(encoding="utf-8") as handle:
        head = handle.read(4096).lstrip()
    if head.startswith("{"):
        return "elevant"
    if head.startswith("TOKEN\t") or head.startswith("# "):
        return "hipe"
    raise ValueError(f"cannot tell the format of {path}; give --format elevant or hipe")


def language_from_path(path: Path) -> str | None:
    """The language a file name names: "HIPE-data-v1.4-dev-fr.tsv" is French."""
    for word in reversed(re.split(r"[^a-z]+", path.name.lower())):
        if word in _LANGUAGE_WORDS:
            return _LANGUAGE_WORDS[word]
    return None


def read_gold(path: Path, gold_format: GoldFormat | None = None, language: str | None = None) -> list[GoldArticle]:
    """The articles of a gold file; `language` overrides what the file says (or its name)."""
    gold_format = gold_format or detect_format(path)
    with path.open(encoding="utf-8") as handle:
        if gold_format == "elevant":
            return read_elevant(handle, language or "en")
        articles = read_hipe(handle, language_from_path(path) or "und")
    if language:
        articles = [GoldArticle(a.id, a.text, language, a.mentions, a.skipped) for a in articles]
    return articles


def gold_entities(article: GoldArticle) -> list[Entity]:
    """The linker's input: one entity per distinct (surface form, label), in order of first mention."""
    grouped: dict[tuple[str, EntityLabel], list[GoldMention]] = {}
    for mention in article.mentions:
        grouped.setdefault((mention.text, mention.label), []).append(mention)
    return [
        Entity(text=text, label=label, count=len(mentions),
               mentions=[Mention(field="body", start=m.start, end=m.end) for m in mentions])
        for (text, label), mentions in grouped.items()
    ]


# ---------------------------------------------------------------------------------------------- scoring

@dataclass
class LabelScore:
    mentions: int = 0  # gold mentions with a gold QID
    right: int = 0
    wrong: int = 0
    unlinked: int = 0
    nil: int = 0  # gold NIL mentions, not in the shares
    nil_linked: int = 0  # of those, how many the linker gave a QID anyway

    def add(self, other: LabelScore) -> None:
        for name in ("mentions", "right", "wrong", "unlinked", "nil", "nil_linked"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def share(self, count: int) -> float:
        return count / self.mentions if self.mentions else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "right_share": self.share(self.right), "wrong_share": self.share(self.wrong),
                "unlinked_share": self.share(self.unlinked)}


@dataclass(frozen=True)
class WrongLink:
    label: EntityLabel
    surface: str
    gold: str
    gold_name: str
    predicted: str
    predicted_name: str


@dataclass(frozen=True)
class Unlinked:
    label: EntityLabel
    surface: str
    gold: str
    gold_name: str
    predicted: str  # the id it got instead ("" when none, or the mention was dropped)


@dataclass
class LinkingReport:
    source: str
    format: str
    languages: list[str]
    articles: int
    labels: dict[str, LabelScore]
    skipped: int = 0  # gold labels left out (coreferences, optional ones)
    unknown: int = 0  # gold mentions whose entity the gold set cannot say (given to the linker, not scored)
    dropped: int = 0  # scored mentions missing from the linker's output altogether
    seconds: list[float] = field(default_factory=list)  # linker time per article
    wrong_links: Counter = field(default_factory=Counter)  # WrongLink -> mentions
    unlinked: Counter = field(default_factory=Counter)  # Unlinked -> mentions

    def total(self, labels: Sequence[str]) -> LabelScore:
        total = LabelScore()
        for label in labels:
            total.add(self.labels[label])
        return total

    def top_wrong(self, count: int) -> list[tuple[WrongLink, int]]:
        return self.wrong_links.most_common(count)

    def top_unlinked(self, count: int, label: str = "location") -> list[tuple[Unlinked, int]]:
        return [(item, n) for item, n in self.unlinked.most_common() if item.label == label][:count]

    def timing(self) -> dict[str, float]:
        if not self.seconds:
            return {"mean_ms": 0.0, "median_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0}
        ordered = sorted(self.seconds)
        return {"mean_ms": 1000 * statistics.fmean(ordered), "median_ms": 1000 * statistics.median(ordered),
                "p95_ms": 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
                "max_ms": 1000 * ordered[-1]}

    def to_dict(self, errors: int = 0) -> dict:
        result = {
            "source": self.source, "format": self.format, "languages": self.languages, "articles": self.articles,
            "labels": {label: score.to_dict() for label, score in self.labels.items()},
            "overall": self.total(SCORED_LABELS).to_dict(),  # person, location, organization
            "all": self.total(ALL_LABELS).to_dict(),
            "skipped": self.skipped, "unknown": self.unknown, "dropped": self.dropped,
            "linker_time_per_article": self.timing(),
        }
        if errors:
            result["top_wrong"] = [{**asdict(item), "mentions": n} for item, n in self.top_wrong(errors)]
            result["top_unlinked_locations"] = [{**asdict(item), "mentions": n}
                                                for item, n in self.top_unlinked(errors)]
        return result


def _entity_id(entity: Entity) -> str:
    return str(getattr(entity, "id", "") or "")


def score_article(article: GoldArticle, linked: Sequence[Entity], report: LinkingReport) -> None:
    """Adds one article's gold mentions, looked up in the linker's output by offsets, to `report`."""
    by_span: dict[tuple[int, int], Entity] = {}
    for entity in linked:
        for mention in entity.mentions:
            by_span.setdefault((mention.start, mention.end), entity)
    for gold in article.mentions:
        entity = by_span.get((gold.start, gold.end))
        predicted = _entity_id(entity) if entity is not None else ""
        score = report.labels[gold.label]
        if gold.status == "unknown":
            report.unknown += 1
        elif gold.status == "nil":
            score.nil += 1
            score.nil_linked += is_qid(predicted)
        else:
            score.mentions += 1
            report.dropped += entity is None
            if predicted == gold.qid:
                score.right += 1
            elif is_qid(predicted):
                score.wrong += 1
                report.wrong_links[WrongLink(gold.label, gold.text, gold.qid, gold.name, predicted,
                                             str(getattr(entity, "name", "") or ""))] += 1
            else:
                score.unlinked += 1
                report.unlinked[Unlinked(gold.label, gold.text, gold.qid, gold.name, predicted)] += 1


def evaluate_linking(articles: Sequence[GoldArticle], link: Linker, source: str = "", gold_format: str = "",
                     limit: int | None = None) -> LinkingReport:
    """Runs `link(entities, language)` once per article (the first `limit`) and scores its ids."""
    articles = list(articles)[:limit] if limit is not None else list(articles)
    report = LinkingReport(source=source, format=gold_format,
                           languages=sorted({article.language for article in articles}),
                           articles=len(articles), labels={label: LabelScore() for label in ALL_LABELS})
    for article in articles:
        report.skipped += article.skipped
        entities = gold_entities(article)
        started = time.perf_counter()
        linked = link(entities, article.language) if entities else []
        report.seconds.append(time.perf_counter() - started)
        score_article(article, linked, report)
    return report


class LinkerUnavailableError(LookupError):
    """processors/linking.py (or its knowledge base) is not there."""


def default_linker(knowledge_base: Path | None = None, display_language: str = "en") -> Linker:
    """The project's linker over a knowledge base (default: the shipped one), loaded here so that
    loading is not timed."""
    try:
        from processors.linking import link_entities, load_knowledge_base
    except ImportError as error:
        raise LinkerUnavailableError(f"the entity linker is not available: {error}") from None
    try:
        kb = load_knowledge_base(knowledge_base)
    except (OSError, ValueError) as error:
        raise LinkerUnavailableError(f"the knowledge base cannot be loaded: {error}") from None

    def link(entities: list[Entity], language: str) -> list[Entity]:
        return link_entities(entities, language, kb, display_language=display_language)

    return link


# ---------------------------------------------------------------------------------------------- report

def _row(name: str, score: dict) -> str:
    shares = "".join(f"{score[key]:>10.3f}" for key in ("right_share", "wrong_share", "unlinked_share"))
    return f"{name:<18}{score['mentions']:>10}{shares}{score['nil']:>8}{score['nil_linked']:>12}"


def _cut(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_linking_report(result: dict) -> str:
    timing = result["linker_time_per_article"]
    lines = [
        f"Entity linking ({', '.join(result['languages']) or '-'}, {result['format']}): {result['articles']} articles, "
        f"linker {timing['mean_ms']:.1f} ms/article (median {timing['median_ms']:.1f}, p95 {timing['p95_ms']:.1f}, "
        f"max {timing['max_ms']:.1f})",
        f"{'label':<18}{'mentions':>10}{'right':>10}{'wrong':>10}{'unlinked':>10}{'NIL':>8}{'NIL linked':>12}",
    ]
    lines += [_row(label, score) for label, score in result["labels"].items()]
    lines.append(_row("PER/LOC/ORG", result["overall"]))
    lines.append(_row("all", result["all"]))
    lines.append(f"left out: {result['skipped']} coreference/optional labels; {result['unknown']} mentions without "
                 f"a known gold entity (given, not scored); {result['dropped']} scored mentions missing from the "
                 "linker's output")
    if "top_wrong" in result:
        lines.append("most frequent wrong links (mentions, label, surface: gold -> linked):"
                     + ("" if result["top_wrong"] else " none"))
        lines += [f"{item['mentions']:>5}  {item['label']:<13}{_cut(item['surface'])!r}: {item['gold']} "
                  f"{_cut(item['gold_name'], 30)} -> {item['predicted']} {_cut(item['predicted_name'], 30)}".rstrip()
                  for item in result["top_wrong"]]
    if "top_unlinked_locations" in result:
        lines.append("most frequent unlinked locations (mentions, surface: gold, id given):"
                     + ("" if result["top_unlinked_locations"] else " none"))
        lines += [f"{item['mentions']:>5}  {_cut(item['surface'])!r}: {item['gold']} {_cut(item['gold_name'], 30)} "
                  f"(got {item['predicted'] or 'nothing'})" for item in result["top_unlinked_locations"]]
    return "\n".join(lines)
