"""The cost of each configured NER model, each in a fresh process (its memory is its own): the
package's size on disk, the time `load_ner_pipeline` takes, tokens/s through the pipeline's NER
path on the shipped samples, and the process's peak RSS once loaded and used."""
from __future__ import annotations

import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from newsstream.settings import PROJECT_ROOT
from processors.config import PipelineConfig

SAMPLE_TEXT = (PROJECT_ROOT / "samples" / "wire-dump.txt").read_text(encoding="utf-8")


def _package_mb(package: str) -> float:
    import importlib.util

    spec = importlib.util.find_spec(package)
    folder = Path(spec.origin).parent if spec and spec.origin else None
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1) if folder else 0.0


def _measure_one(language: str, config: PipelineConfig) -> dict[str, Any]:
    from processors.entities import EntityInput, load_ner_pipeline, tag_entities

    started = time.perf_counter()
    nlp = load_ner_pipeline(language, config.model_map)
    load_s = time.perf_counter() - started
    texts = [paragraph for paragraph in SAMPLE_TEXT.split("\n\n") if paragraph.strip()] * 20
    units = [EntityInput(key=n, field="body", offset=0, text=text, language=language) for n, text in enumerate(texts)]
    tokens = sum(len(nlp.tokenizer(text)) for text in texts)  # type: ignore[union-attr]
    started = time.perf_counter()
    tag_entities(units, config.model_map, config.nlp_batch_size)
    seconds = time.perf_counter() - started
    return {"language": language, "package": config.model_map[language], "size_mb": _package_mb(config.model_map[language]),
            "load_s": round(load_s, 2), "tokens_per_s": round(tokens / seconds),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def measure_models(config: PipelineConfig) -> list[dict[str, Any]]:
    results = []
    for language in sorted(config.model_map):
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as executor:
            results.append(executor.submit(_measure_one, language, config).result())
    return results


def render_models(results: list[dict[str, Any]]) -> str:
    lines = ["| language | package | size MB | load s | tokens/s | peak RSS MB |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['language']} | {r['package']} | {r['size_mb']} | {r['load_s']} | {r['tokens_per_s']:,} | "
              f"{r['peak_rss_mb']} |" for r in results]
    return "\n".join(lines)
