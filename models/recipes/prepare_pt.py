"""Portuguese data: First HAREM (gold train/dev), MiniHAREM (gold test), WikiANN pt (silver)."""
import json
from pathlib import Path
from newsstream.measure.train_ner import (entity_counts, fifth_split, read_harem, read_wikiann, to_docbin,
                                          usable_silver, write_conll)

RAW = Path("/work/ner-data/pt/raw")
OUT = Path("/work/ner-data/pt")
first = read_harem(RAW / "corpus_First_HAREM.txt")
test = read_harem(RAW / "corpus_miniHAREM.txt")
test_text = {" ".join(s.tokens) for s in test}
train, dev = fifth_split(first)
dev_text = {" ".join(s.tokens) for s in dev}
overlap_train = sum(" ".join(s.tokens) in test_text for s in train)
overlap_dev = sum(" ".join(s.tokens) in test_text for s in dev)
train = [s for s in train if " ".join(s.tokens) not in test_text]
dev = [s for s in dev if " ".join(s.tokens) not in test_text]
dev_text = {" ".join(s.tokens) for s in dev}
write_conll(test, OUT / "eval" / "miniharem.conll")
write_conll(dev, OUT / "eval" / "harem-dev.conll")
counts = {"first_harem": len(first), "minharem_test": len(test), "train_overlap_test_dropped": overlap_train,
          "dev_overlap_test": overlap_dev,
          "train": to_docbin(train, "pt", OUT / "train.spacy"), "dev": to_docbin(dev, "pt", OUT / "dev.spacy")}
# WikiANN silver (phase 1 / transfer): train+dev+test, >= 5 tokens, no '*' fragments, dedup, no gold dev/test text
blocked = test_text | dev_text
silver = usable_silver((s for name in ("train", "dev", "test") for s in read_wikiann(RAW / f"wikiann-{name}")), blocked)
counts["wikiann_raw"] = sum(1 for n in ("train", "dev", "test") for _ in read_wikiann(RAW / f"wikiann-{n}"))
counts["wikiann_silver"] = to_docbin(silver, "pt", OUT.parent / "pt-wa" / "train.spacy")
to_docbin(dev, "pt", OUT.parent / "pt-wa" / "dev.spacy")
counts["tokens_train"] = sum(len(s.tokens) for s in train)
counts["tokens_dev"] = sum(len(s.tokens) for s in dev)
counts["tokens_test"] = sum(len(s.tokens) for s in test)
counts["ents_train"], counts["ents_dev"], counts["ents_test"], counts["ents_silver"] = (
    entity_counts(train), entity_counts(dev), entity_counts(test), entity_counts(silver))
print(json.dumps(counts, indent=1))
