"""The stages composed: message bytes in, an enriched article or a dead letter out.

The Faust worker and `newsstream enrich` both call `process_messages`, so what is tested
in-process is exactly what runs in the stream.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from processors.analysis import analyze
from processors.clean import clean_article, normalise_for_nlp
from processors.config import PipelineConfig
from processors.entities import EntityInput, TaggedEntities, tag_entities
from processors.language import detect_article_languages
from processors.linking import link_entities, load_knowledge_base
from schemas import CleanedArticle, DeadLetter, EnrichedArticle, RawArticle


class InvalidMessage(ValueError):
    """A message that is not a valid article; the reason is the text."""


def parse_message(payload: bytes, max_body_bytes: int) -> RawArticle:
    if len(payload) > max_body_bytes + 64 * 1024:
        raise InvalidMessage(f"message of {len(payload)} bytes is over the limit ({max_body_bytes} bytes of body)")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidMessage(f"not UTF-8: {error}") from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise InvalidMessage(f"not JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidMessage(f"expected a JSON object, got {type(data).__name__}")
    try:
        article = RawArticle.model_validate(data)
    except ValidationError as error:
        raise InvalidMessage("invalid article: " + "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'article'}: {e['msg']}" for e in error.errors()
        )) from None
    if len(article.body.encode("utf-8")) > max_body_bytes:
        raise InvalidMessage(f"body is over the limit of {max_body_bytes} bytes")
    return article


@dataclass(frozen=True)
class _Prepared:
    raw: RawArticle
    cleaned: CleanedArticle
    title_language: str
    enriched: EnrichedArticle  # everything but the entities


class StageFailed(Exception):
    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"{stage}: {type(error).__name__}: {error}")
        self.stage = stage
        self.error = error


def _prepare(raw: RawArticle, config: PipelineConfig) -> _Prepared:
    stage = "clean"
    try:
        cleaned = clean_article(raw.title, raw.body)
        stage = "language"
        detected = detect_article_languages(cleaned.title, cleaned.paragraphs, config.languages,
                                            hint=raw.metadata.get("language_hint"))
        stage = "analysis"
        body_terms = [term for p in detected.paragraphs for term in analyze(p.text, p.language)]
        enriched = EnrichedArticle(
            id=raw.id,
            url=raw.url,
            source=raw.source,
            title=cleaned.title,
            body=cleaned.body,
            language=detected.language,
            languages=detected.languages,
            agencies=cleaned.agencies,
            credits=cleaned.credits,
            paragraphs=detected.paragraphs,
            title_terms=" ".join(analyze(cleaned.title, detected.title_language)),
            body_terms=" ".join(body_terms),
            published_at=raw.published_at,
            fetched_at=raw.fetched_at,
            metadata=raw.metadata,
        )
    except Exception as error:  # any failure of a stage is this article's dead letter, not the batch's
        raise StageFailed(stage, error) from error
    return _Prepared(raw, cleaned, detected.title_language, enriched)


def _entity_units(key: int, prepared: _Prepared) -> list[EntityInput]:
    # NER reads ASCII quotes and apostrophes (same length, so offsets still point into the display text).
    units = [EntityInput(key=key, field="title", offset=0, text=normalise_for_nlp(prepared.enriched.title),
                         language=prepared.title_language)] if prepared.enriched.title else []
    units += [
        EntityInput(key=key, field="body", offset=p.start, text=normalise_for_nlp(p.text), language=p.language)
        for p in prepared.enriched.paragraphs
    ]
    return units


def _link(tagged: TaggedEntities, prepared: _Prepared, config: PipelineConfig) -> TaggedEntities | StageFailed:
    if not tagged.entities:
        return tagged
    try:
        kb = load_knowledge_base(config.knowledge_base)
        entities = link_entities(tagged.entities, prepared.enriched.language, kb, config.entity_name_language)
    except Exception as error:  # this article's dead letter, not the batch's
        return StageFailed("linking", error)
    return TaggedEntities(entities=entities, ner_unavailable=tagged.ner_unavailable)


def _tag(prepared: dict[int, _Prepared], config: PipelineConfig) -> dict[int, TaggedEntities | StageFailed]:
    units = [unit for key, item in prepared.items() for unit in _entity_units(key, item)]
    models, batch_size = config.model_map, config.nlp_batch_size
    try:
        return dict(tag_entities(units, models, batch_size=batch_size))
    except Exception:
        # One bad article must not sink the batch: retry one by one to find it.
        results: dict[int, TaggedEntities | StageFailed] = {}
        for key, item in prepared.items():
            try:
                results.update(tag_entities(_entity_units(key, item), models, batch_size=batch_size))
            except Exception as error:
                results[key] = StageFailed("entities", error)
        return results


def enrich_articles(raws: Sequence[RawArticle], config: PipelineConfig) -> list[EnrichedArticle | StageFailed]:
    results: list[EnrichedArticle | StageFailed | None] = [None] * len(raws)
    prepared: dict[int, _Prepared] = {}
    for key, raw in enumerate(raws):
        try:
            prepared[key] = _prepare(raw, config)
        except StageFailed as failure:
            results[key] = failure
    tagged = _tag(prepared, config)
    for key, item in prepared.items():
        entities = tagged.get(key, TaggedEntities())
        if not isinstance(entities, StageFailed):
            entities = _link(entities, item, config)
        if isinstance(entities, StageFailed):
            results[key] = entities
        else:
            results[key] = item.enriched.model_copy(
                update={"entities": entities.entities, "ner_unavailable": entities.ner_unavailable}
            )
    return [result for result in results if result is not None]


def process_messages(payloads: Sequence[bytes], config: PipelineConfig) -> list[EnrichedArticle | DeadLetter]:
    """Validates and enriches a batch; each input gives exactly one output, in order."""
    outcomes: list[EnrichedArticle | DeadLetter | None] = [None] * len(payloads)
    valid: list[tuple[int, RawArticle]] = []
    for position, payload in enumerate(payloads):
        try:
            valid.append((position, parse_message(payload, config.max_body_bytes)))
        except InvalidMessage as error:
            outcomes[position] = DeadLetter.from_bytes(payload, stage="validate", error=str(error))
    enriched = enrich_articles([raw for _, raw in valid], config)
    for (position, _), result in zip(valid, enriched, strict=True):
        outcomes[position] = (
            DeadLetter.from_bytes(payloads[position], stage=result.stage, error=str(result))
            if isinstance(result, StageFailed) else result
        )
    return [outcome for outcome in outcomes if outcome is not None]
