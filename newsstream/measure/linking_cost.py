"""What entity linking costs the pipeline: the knowledge base's load time and memory in one NLP
process, and the linker's time beside the rest of the per-article NLP, on the same articles.

Linking is timed by running the linker again over each enriched article's entities (the same
work the pipeline did on them), in the same run as the pipeline itself: the ratio is what
counts on a noisy machine."""
from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from processors.config import PipelineConfig
from processors.linking import link_entities, load_knowledge_base
from processors.pipeline import enrich_articles
from schemas import EnrichedArticle, RawArticle


@dataclass(frozen=True)
class LinkingCost:
    articles: int
    rounds: int
    knowledge_base_load_s: float
    knowledge_base_rss_mb: float  # peak RSS growth while it loaded
    pipeline_ms_per_article: float  # median over rounds, linking included
    linking_ms_per_article: float
    linking_share: float  # linking / (pipeline without linking)

    def as_dict(self) -> dict:
        return asdict(self)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_linking_cost(raws: Sequence[RawArticle], config: PipelineConfig, rounds: int = 3) -> LinkingCost:
    """Loads the knowledge base first (so its memory is measured alone), then times the pipeline
    and the linker over `raws`, `rounds` times each, after one warm-up."""
    before, started = _peak_rss_mb(), time.perf_counter()
    kb = load_knowledge_base(config.knowledge_base)
    load_s, kb_mb = time.perf_counter() - started, _peak_rss_mb() - before
    enrich_articles(raws[:5], config)  # loads the NER models
    pipeline_s, linking_s = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        enriched = [a for a in enrich_articles(raws, config) if isinstance(a, EnrichedArticle)]
        pipeline_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        for article in enriched:
            link_entities(article.entities, article.language, kb, config.entity_name_language)
        linking_s.append(time.perf_counter() - started)
    pipeline, linking = statistics.median(pipeline_s), statistics.median(linking_s)
    return LinkingCost(
        articles=len(raws), rounds=rounds, knowledge_base_load_s=round(load_s, 2), knowledge_base_rss_mb=round(kb_mb, 1),
        pipeline_ms_per_article=round(1000 * pipeline / len(raws), 2),
        linking_ms_per_article=round(1000 * linking / len(raws), 3),
        linking_share=round(linking / max(pipeline - linking, 1e-9), 4),
    )


def render_linking_cost(cost: LinkingCost) -> str:
    return "\n".join((
        f"Linking cost on {cost.articles} articles (median of {cost.rounds} rounds, one process):",
        f"  knowledge base: {cost.knowledge_base_load_s:.2f} s to load, {cost.knowledge_base_rss_mb:.0f} MB RSS",
        f"  pipeline: {cost.pipeline_ms_per_article:.2f} ms/article, of which linking "
        f"{cost.linking_ms_per_article:.3f} ms/article",
        f"  linking adds {100 * cost.linking_share:.1f} % to the rest of the per-article NLP",
    ))
