"""Alert rules matched in the stream, each article evaluating only the rules it could match.

A rule's query (Lucene-like: words, "phrases", AND, OR, NOT, -x, +x, parentheses; juxtaposition
is AND, as in search) compiles to a small tree over the same analysed terms search uses. Like
Lucene Monitor (Luwak) and the percolator's query extraction, each query yields *trigger* terms,
at least one of which every matching article contains; `RuleIndex` files queries under their
triggers, so an article evaluates only the queries that share a term with it.
"""
from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Mapping, Sequence, Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any, Literal, NamedTuple

from luqum import tree
from luqum.exceptions import ParseError
from luqum.parser import parser

from processors.analysis import query_terms
from processors.highlight import highlight
from processors.names import name_key, name_keys
from schemas import EnrichedArticle
from schemas.alerts import Alert, Rule, alert_id


class InvalidRuleQuery(ValueError):
    """A rule query that cannot be compiled; the message says what and where."""


@dataclass(frozen=True)
class ArticleTerms:
    """An article's analysed terms, built once and shared by every rule evaluated against it."""

    sequence: tuple[str, ...]  # title terms, "", body terms: the gap keeps phrases from spanning both
    unique: frozenset[str]
    languages: frozenset[str]  # the languages its text is written in

    @classmethod
    def from_article(cls, article: EnrichedArticle) -> "ArticleTerms":
        title, body = article.title_terms.split(), article.body_terms.split()
        languages = frozenset(share.code for share in article.languages) | {article.language}
        return cls((*title, "", *body), frozenset(title).union(body), languages)

    @cached_property
    def positions(self) -> dict[str, list[int]]:
        # Only phrases need positions, and most articles meet no phrase rule: built on first use.
        positions: dict[str, list[int]] = {}
        for position, term in enumerate(self.sequence):
            positions.setdefault(term, []).append(position)
        return positions


# --- the compiled query: evaluate() gives the matched terms, or None; triggers() the index keys --


def _commonness(terms: frozenset[str]) -> float:
    """How likely an article is to contain one of `terms` (a word's forms across languages, so
    the commonest decides). Short terms and numbers are the common ones: the length heuristic of
    Luwak's default term weighting, with no corpus statistics to keep up to date."""
    return max(1.0 if term.isdigit() else 1.0 / len(term) for term in terms)


@dataclass(frozen=True)
class TermNode:
    alternatives: frozenset[str]  # the word's analysed forms in every language it was compiled for

    def evaluate(self, terms: ArticleTerms) -> AbstractSet[str] | None:
        return self.alternatives & terms.unique or None

    def triggers(self) -> frozenset[str]:
        return self.alternatives


class PhraseVariant(NamedTuple):
    words: tuple[frozenset[str], ...]  # per position, the alternatives
    # None: any article. Otherwise the languages whose stop words this variant lacks: it only
    # applies to articles with text in one of them ("said Bez" is "said" in Polish text only).
    languages: frozenset[str] | None


@dataclass(frozen=True)
class PhraseNode:
    # A variant per pattern of stop words dropped: "Bank of England" is (bank, england) in English
    # text and (bank, of, england) in text read as a language that keeps "of".
    variants: tuple[PhraseVariant, ...]

    def evaluate(self, terms: ArticleTerms) -> AbstractSet[str] | None:
        sequence, found = terms.sequence, set()
        for words, languages in self.variants:
            if languages is not None and languages.isdisjoint(terms.languages):
                continue
            for first in words[0] & terms.unique:
                for start in terms.positions[first]:
                    window = sequence[start : start + len(words)]
                    if len(window) == len(words) and all(map(operator.contains, words, window)):
                        found.update(window)
        return found or None

    def triggers(self) -> frozenset[str]:
        return frozenset().union(*(min(variant.words, key=_commonness) for variant in self.variants))


@dataclass(frozen=True)
class AllOf:
    required: tuple[Node, ...]
    excluded: tuple[Node, ...] = ()

    def evaluate(self, terms: ArticleTerms) -> AbstractSet[str] | None:
        found: set[str] = set()
        for child in self.required:
            child_found = child.evaluate(terms)
            if child_found is None:
                return None
            found |= child_found
        if any(child.evaluate(terms) is not None for child in self.excluded):
            return None
        return found

    def triggers(self) -> frozenset[str]:
        # Any match contains every required child, so the rarest child's triggers suffice.
        return min((child.triggers() for child in self.required), key=_commonness)


@dataclass(frozen=True)
class AnyOf:
    options: tuple[Node, ...]

    def evaluate(self, terms: ArticleTerms) -> AbstractSet[str] | None:
        found: set[str] = set()
        for child in self.options:
            if child_found := child.evaluate(terms):
                found |= child_found
        return found or None

    def triggers(self) -> frozenset[str]:
        return frozenset().union(*(child.triggers() for child in self.options))


@dataclass(frozen=True)
class InLanguage:
    """`de:Sanktionen`: words analysed as one language's, matched only in articles with text in it."""

    language: str
    child: Node

    def evaluate(self, terms: ArticleTerms) -> AbstractSet[str] | None:
        return self.child.evaluate(terms) if self.language in terms.languages else None

    def triggers(self) -> frozenset[str]:
        return self.child.triggers()


Node = TermNode | PhraseNode | AllOf | AnyOf | InLanguage


@dataclass(frozen=True)
class CompiledQuery:
    query: str
    root: Node
    # An article containing none of these cannot match. Never empty: queries that match by
    # excluding alone (NOT x, a OR NOT b) are refused, so every query has a term it needs.
    triggers: frozenset[str]


def matches(compiled: CompiledQuery, article_terms: ArticleTerms) -> set[str] | None:
    """The article terms that made the query match, or None when it does not."""
    found = compiled.root.evaluate(article_terms)
    return None if found is None else set(found)


# --- parsing -------------------------------------------------------------------------------------

_UNSUPPORTED = {
    tree.Range: "ranges are not supported",
    tree.OpenRange: "ranges are not supported",
    tree.Fuzzy: "fuzzy matching (~) is not supported",
    tree.Proximity: "proximity searches (~) are not supported",
    tree.Boost: "boosts (^) mean nothing for alerts",
    tree.Regex: "regular expressions are not supported",
}
_WILDCARD = re.compile(r"(?<!\\)[*?]")
_ESCAPE = re.compile(r"\\(.)")
_LUQUM_POSITION = re.compile(r"unexpected\s+'(.*)' at position (\d+)")

# A (negated?) node, or None for a word that analysis drops everywhere (a stop word).
Built = tuple[Node, bool] | None


def expanded_query(query: str, accepted: dict[str, list[str]]) -> str:
    """The query with words accepted for other languages added as alternatives, in the rule syntax
    (`(sanctions) OR de:(Sanktionen OR Strafmaßnahmen)`), so the expansion is part of the rule
    and visible wherever the rule is shown."""
    added = [language_clause(language, words) for language, words in accepted.items() if words]
    return " OR ".join([f"({query})", *added]) if added else query


def language_clause(language: str, words: Iterable[str]) -> str:
    """Words as alternatives analysed as `language` only: `de:(Sanktionen OR "EU-Sanktionen")`."""
    return f"{language}:({' OR '.join(_quoted(word) for word in words)})"


def _quoted(word: str) -> str:
    # A word with anything but letters and digits ("EU-Sanktionen", "l'embargo") is a phrase.
    return word if word.isalnum() else '"' + word.replace('"', "") + '"'


def compile_query(query: str, languages: Iterable[str]) -> CompiledQuery:
    """Parses and analyses `query` for text in `languages`; raises InvalidRuleQuery."""
    text = query.strip()
    if not text:
        raise InvalidRuleQuery("empty query")
    _check_balanced(text)
    try:
        parsed = parser.parse(text)
    except ParseError as error:
        raise InvalidRuleQuery(_describe_parse_error(text, error)) from None
    built = _build(parsed, tuple(dict.fromkeys(languages)), text)
    if built is None:
        raise InvalidRuleQuery(f'nothing to search: the query has only stop words: "{text}"')
    root, negated = built
    if negated:
        raise InvalidRuleQuery(f'the query only excludes words; add one that must appear, e.g. "sanctions NOT ...": "{text}"')
    return CompiledQuery(text, root, root.triggers())


def _check_balanced(text: str) -> None:
    """Quotes and parentheses, checked first: luqum reports both only as an unexpected end."""
    open_parentheses: list[int] = []
    quote_at: int | None = None
    escaped = False
    for position, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif quote_at is not None:
            quote_at = None if char == '"' else quote_at
        elif char == '"':
            quote_at = position
        elif char == "(":
            open_parentheses.append(position)
        elif char == ")":
            if not open_parentheses:
                raise InvalidRuleQuery(f'unbalanced parenthesis at position {position} (")" closes nothing): "{text}"')
            open_parentheses.pop()
    if quote_at is not None:
        raise InvalidRuleQuery(f'unclosed quote at position {quote_at}: "{text}"')
    if open_parentheses:
        raise InvalidRuleQuery(
            f'unbalanced parenthesis at position {open_parentheses[-1]} ("(" is never closed): "{text}"'
        )


def _describe_parse_error(text: str, error: ParseError) -> str:
    if found := _LUQUM_POSITION.search(str(error)):
        return f'unexpected "{found.group(1)}" at position {found.group(2)}: "{text}"'
    if "end of expression" in str(error):
        return f'the query ends at position {len(text)} where a word was expected: "{text}"'
    return f'cannot parse the query ({error}): "{text}"'


def _build(item: tree.Item, languages: tuple[str, ...], text: str) -> Built:
    for construct, reason in _UNSUPPORTED.items():
        if isinstance(item, construct):
            raise InvalidRuleQuery(f'{reason}, at position {item.pos}: "{text}"')
    if isinstance(item, tree.Word):
        if wildcard := _WILDCARD.search(item.value):
            raise InvalidRuleQuery(
                f'wildcards are not supported ("{wildcard.group()}" at position {item.pos + wildcard.start()}): "{text}"'
            )
        return _words_node(_ESCAPE.sub(r"\1", item.value), languages)
    if isinstance(item, tree.Phrase):
        return _words_node(_ESCAPE.sub(r"\1", item.value[1:-1]), languages)
    if isinstance(item, tree.SearchField):
        return _in_language(item, languages, text)
    if isinstance(item, (tree.Group, tree.FieldGroup, tree.Plus)):
        return _build(item.children[0], languages, text)
    if isinstance(item, (tree.Not, tree.Prohibit)):
        built = _build(item.children[0], languages, text)
        return None if built is None else (built[0], not built[1])
    if isinstance(item, (tree.AndOperation, tree.UnknownOperation)):
        return _all_of([_build(child, languages, text) for child in item.children])
    if isinstance(item, tree.OrOperation):
        return _any_of(item.children, languages, text)
    raise InvalidRuleQuery(f'unsupported syntax "{item}" at position {item.pos}: "{text}"')


def _in_language(item: tree.SearchField, languages: tuple[str, ...], text: str) -> Built:
    """`xx:word`, `xx:"a phrase"` or `xx:(a OR b)` for one of the configured languages `xx`."""
    language = item.name.lower()
    if language not in languages:
        raise InvalidRuleQuery(f'"{item.name}:" at position {item.pos} is not one of the languages '
                               f'({", ".join(languages)}); a field restricts words to a language: "{text}"')
    built = _build(item.children[0], (language,), text)
    if built is None:
        return None
    node, negated = built
    return InLanguage(language, node), negated


def _all_of(children: list[Built]) -> Built:
    required: list[Node] = []
    excluded: list[Node] = []
    for built in children:
        if built is None:
            continue
        node, negated = built
        if isinstance(node, AllOf) and not negated:
            required += node.required
            excluded += node.excluded
        else:
            (excluded if negated else required).append(node)
    if not required:
        # NOT a AND NOT b is NOT (a OR b): the parent decides whether a negation can stand there.
        return (excluded[0] if len(excluded) == 1 else AnyOf(tuple(excluded)), True) if excluded else None
    if len(required) == 1 and not excluded:
        return required[0], False
    return AllOf(tuple(required), tuple(excluded)), False


def _any_of(children: list[tree.Item], languages: tuple[str, ...], text: str) -> Built:
    options: list[Node] = []
    for child in children:
        built = _build(child, languages, text)
        if built is None:
            continue
        node, negated = built
        if negated:
            raise InvalidRuleQuery(
                f'an OR cannot have an excluded alternative ("{str(child).strip()}" at position {child.pos}); '
                f'write "a AND NOT b" or "(a OR c) AND NOT b": "{text}"'
            )
        options += node.options if isinstance(node, AnyOf) else [node]
    if not options:
        return None
    return (options[0] if len(options) == 1 else AnyOf(tuple(options))), False


@lru_cache(maxsize=1 << 16)  # rules repeat words: compiled nodes are immutable, so shared
def _words_node(words: str, languages: tuple[str, ...]) -> Built:
    """A word or phrase as a term (one analysed word) or a phrase (consecutive analysed words).

    Analysed language by language, because a stop word drops out of one language's text and not
    another's; languages that drop the same words share a variant, their forms merged per position.
    """
    merged: dict[tuple[int, ...], list[set[str]]] = {}  # by terms per word (0: dropped)
    languages_of: dict[tuple[int, ...], set[str]] = {}
    for language in languages:
        per_word = [query_terms(word, [language]) for word in words.split()]
        sequence = [alternatives for word_terms in per_word for alternatives in word_terms]
        if sequence:
            pattern = tuple(map(len, per_word))
            for slot, alternatives in zip(merged.setdefault(pattern, [set() for _ in sequence]), sequence):
                slot |= alternatives
            languages_of.setdefault(pattern, set()).add(language)
    if not merged:
        return None
    if len(merged) == 1 and len(only := next(iter(merged.values()))) == 1:
        return TermNode(frozenset(only[0])), False
    complete = tuple(map(max, zip(*merged)))  # every word kept
    return PhraseNode(tuple(
        PhraseVariant(tuple(map(frozenset, slots)), None if pattern == complete else frozenset(languages_of[pattern]))
        for pattern, slots in merged.items()
    )), False


# --- the rule index ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleMatch:
    rule: Rule
    matched_terms: frozenset[str]


def _has_filter(rule: Rule) -> bool:
    return rule.lang is not None or rule.source is not None or rule.entity is not None


@dataclass(eq=False)  # hashed by identity: the trigger lists hold these
class WatchedQuery:
    """One compiled query and the rules that watch it: rules sharing query and lang compile once."""

    compiled: CompiledQuery
    rules: dict[str, Rule] = field(default_factory=dict)
    filtered: int = 0  # how many of the rules have filters; none (the usual case) skips the checks


@dataclass(frozen=True)
class _ArticleFacts:
    """What the rule filters look at, normalised once per article."""

    language: str
    source: str | None
    # A rule's entity is an id, or a name matched by name key in any spelling the article uses.
    entity_ids: frozenset[str]
    entity_keys: frozenset[str]

    @classmethod
    def from_article(cls, article: EnrichedArticle) -> "_ArticleFacts":
        return cls(
            language=article.language,
            source=article.source.casefold() if article.source else None,
            entity_ids=frozenset(article.entity_ids()),
            entity_keys=frozenset(key for entity in article.entities
                                  for spelling in (entity.text, entity.name, *entity.aliases) if spelling
                                  for key in name_keys(spelling, article.language)),
        )

    def admit(self, rule: Rule) -> bool:
        return (
            (rule.lang is None or rule.lang == self.language)
            and (rule.source is None or rule.source.casefold() == self.source)
            and (rule.entity is None or rule.entity in self.entity_ids or name_key(rule.entity) in self.entity_keys)
        )


class RuleIndex:
    """Every rule, filed under its query's trigger terms; add and remove cost the rule's terms only."""

    def __init__(self, languages: Iterable[str]) -> None:
        self.languages = tuple(languages)
        self._rules: dict[str, Rule] = {}
        self._watched: dict[tuple[str, str | None], WatchedQuery] = {}  # by (query, lang)
        self._by_trigger: dict[str, set[WatchedQuery]] = {}

    def __len__(self) -> int:
        return len(self._rules)

    def add(self, rule: Rule) -> None:
        """Adds the rule, replacing one of the same name; raises InvalidRuleQuery (index unchanged)."""
        key = (rule.query, rule.lang)
        watched = self._watched.get(key)
        if watched is None:
            # A lang filter restricts the analysis too, as search does with its language.
            watched = WatchedQuery(compile_query(rule.query, [rule.lang] if rule.lang else self.languages))
        self.remove(rule.name)
        if key not in self._watched:
            self._watched[key] = watched
            for term in watched.compiled.triggers:
                self._by_trigger.setdefault(term, set()).add(watched)
        watched.rules[rule.name] = rule
        watched.filtered += _has_filter(rule)
        self._rules[rule.name] = rule

    def remove(self, name: str) -> bool:
        rule = self._rules.pop(name, None)
        if rule is None:
            return False
        key = (rule.query, rule.lang)
        watched = self._watched[key]
        del watched.rules[name]
        watched.filtered -= _has_filter(rule)
        if not watched.rules:
            del self._watched[key]
            for term in watched.compiled.triggers:
                listed = self._by_trigger[term]
                listed.discard(watched)
                if not listed:
                    del self._by_trigger[term]
        return True

    def get(self, name: str) -> Rule | None:
        return self._rules.get(name)

    def stored_candidates_query(self) -> dict[str, Any]:
        """An Elasticsearch query for the stored articles these rules may match: those with a
        trigger term among their `title_terms` or `body_terms` (the analysed terms `match` reads),
        so every match is among them and `match` settles each. What keeps `alerts test` from
        reading every stored article."""
        triggers = sorted(self._by_trigger)
        return {"bool": {"should": [{"terms": {"title_terms": triggers}}, {"terms": {"body_terms": triggers}}],
                         "minimum_should_match": 1}}

    def candidates(self, terms: ArticleTerms) -> set[WatchedQuery]:
        """The queries an article with these terms may match: those with a trigger among them."""
        found: set[WatchedQuery] = set()
        for term in self._by_trigger.keys() & terms.unique:  # a C-level loop over the smaller side
            found |= self._by_trigger[term]
        return found

    def match(self, article: EnrichedArticle) -> list[RuleMatch]:
        """The rules the article matches, by name; only queries sharing a term with it are evaluated."""
        terms, facts = ArticleTerms.from_article(article), _ArticleFacts.from_article(article)
        found: list[RuleMatch] = []
        for watched in self.candidates(terms):
            # Evaluated before the filters: few rules have filters, and those rarely turn a match away.
            if matched := watched.compiled.root.evaluate(terms):
                matched_terms = frozenset(matched)
                found += [RuleMatch(rule, matched_terms) for rule in watched.rules.values()
                          if not watched.filtered or facts.admit(rule)]
        return sorted(found, key=lambda match: match.rule.name)

    def match_naive(self, article: EnrichedArticle) -> list[RuleMatch]:
        """`match` without the index: every rule evaluated (the benchmark's baseline and test oracle)."""
        terms, facts = ArticleTerms.from_article(article), _ArticleFacts.from_article(article)
        found: list[RuleMatch] = []
        for rule in self._rules.values():
            compiled = self._watched[(rule.query, rule.lang)].compiled
            if facts.admit(rule) and (matched := matches(compiled, terms)) is not None:
                found.append(RuleMatch(rule, frozenset(matched)))
        return sorted(found, key=lambda match: match.rule.name)


# Articles an alert lists; past it `article_count` still counts, but a replayed article beyond the
# list may be counted again (it can no longer be recognised).
MAX_ALERT_ARTICLES = 1000


def make_alert(match: RuleMatch, article: EnrichedArticle) -> Alert:
    snippets = highlight(article, set(match.matched_terms), max_snippets=1)
    story_id = article.story_id or article.id
    return Alert(
        id=alert_id(match.rule.name, story_id),
        rule=match.rule.name,
        article_id=article.id,
        story_id=story_id,
        title=article.title,
        language=article.language,
        matched_terms=sorted(match.matched_terms),
        snippet=snippets[0] if snippets else "",
        published_at=article.published_at,
        source=article.source,
        url=article.url,
        article_ids=[article.id],
        sources=[article.source] if article.source else [],
        languages=[article.language],
    )


def folded(alert: Alert, later: Alert) -> Alert | None:
    """`alert` with the articles of `later` (same rule and story) added; None when they are in
    already (a replay), so nothing is written twice."""
    added = [article_id for article_id in later.article_ids if article_id not in alert.article_ids]
    if not added:
        return None
    room = max(0, MAX_ALERT_ARTICLES - len(alert.article_ids))
    return alert.model_copy(update={
        "article_ids": alert.article_ids + added[:room],
        "article_count": alert.article_count + len(added),
        "sources": list(dict.fromkeys([*alert.sources, *later.sources])),
        "languages": list(dict.fromkeys([*alert.languages, *later.languages])),
        "last_matched_at": later.last_matched_at or later.matched_at,
    })


def per_story(alerts: Sequence[Alert]) -> list[Alert]:
    """One alert per id, in order of first appearance, the later articles of the batch folded in."""
    combined: dict[str, Alert] = {}
    for alert in alerts:
        first = combined.get(alert.id)
        combined[alert.id] = alert if first is None else (folded(first, alert) or first)
    return list(combined.values())


# --- publishing: the outbox between the alerts index and the alerts topic -------------------------

# How long a stored alert may stay unpublished before another worker takes it over: longer than
# publishing ever takes (a topic send), shorter than anyone would wait for an alert.
PENDING_LEASE = timedelta(seconds=30)


class AlertPending(Exception):
    """Another worker stored this alert and may still be publishing it: the batch waits (retries)
    until it is published or the lease runs out, so neither a crash nor a race loses or doubles it."""


@dataclass(frozen=True)
class Pending:
    """A stored alert not yet on the topic: who stored it, and when."""

    owner: str
    since: datetime


def pending_fields(pending: Pending | None) -> dict[str, str | None]:
    """What the alerts index stores beside an alert: its pending mark, null once published."""
    return {"pending_owner": pending and pending.owner, "pending_since": pending and pending.since.isoformat()}


def pending_of(stored: Mapping[str, Any]) -> Pending | None:
    """The pending mark of a stored alert document (`pending_fields`), if any."""
    owner, since = stored.get("pending_owner"), stored.get("pending_since")
    return Pending(owner, datetime.fromisoformat(since)) if owner and since else None


def publication(pending: Pending | None, worker: str, now: datetime,
                lease: timedelta = PENDING_LEASE) -> Literal["published", "mine", "claim", "wait"]:
    """What `worker` does about an alert it finds stored: nothing (it is on the topic already),
    publish it (stored by this worker in an earlier try of the batch), claim and publish it (left
    unpublished for longer than the lease: its worker died between storing and publishing), or wait."""
    if pending is None:
        return "published"
    if pending.owner == worker:
        return "mine"
    return "claim" if now - pending.since >= lease else "wait"
