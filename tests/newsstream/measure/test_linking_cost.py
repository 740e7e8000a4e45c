"""`newsstream measure linking-cost` on our own samples: every figure is there and sane."""
from __future__ import annotations

from newsstream.measure.linking_cost import measure_linking_cost, render_linking_cost
from newsstream.settings import PROJECT_ROOT
from processors.config import PipelineConfig
from schemas import RawArticle


def test_the_cost_of_linking_is_measured_beside_the_pipeline() -> None:
    lines = (PROJECT_ROOT / "samples" / "articles-multilingual.jsonl").read_text(encoding="utf-8").splitlines()
    cost = measure_linking_cost([RawArticle.model_validate_json(line) for line in lines], PipelineConfig(), rounds=1)
    assert cost.articles == 5 and cost.knowledge_base_load_s >= 0 and cost.knowledge_base_rss_mb >= 0
    assert 0 < cost.linking_ms_per_article < cost.pipeline_ms_per_article and cost.linking_share > 0
    assert "linking adds" in render_linking_cost(cost)
