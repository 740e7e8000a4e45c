"""Italian data: KIND Wikinews (EVALITA 2023 NERMuD split; gold train/dev/test), KIND fiction + De Gasperi
(extra gold train), WikiNEuRal it val+test (silver)."""
import json
from pathlib import Path
from newsstream.measure.train_ner import entity_counts, read_conll, read_wikineural, to_docbin, usable_silver, write_conll

RAW = Path("/work/ner-data/it/raw")
OUT = Path("/work/ner-data/it")
key = lambda s: " ".join(s.tokens)
train, dev, test = (read_conll(RAW / f"WN_{n}.tsv") for n in ("train", "dev", "test"))
test_text = {key(s) for s in test}
dev_text = {key(s) for s in dev}
counts = {"wn_train_raw": len(train), "wn_dev_raw": len(dev), "wn_test": len(test),
          "train_in_test": sum(key(s) in test_text for s in train), "dev_in_test": sum(key(s) in test_text for s in dev),
          "train_in_dev": sum(key(s) in dev_text for s in train)}
train = [s for s in train if key(s) not in test_text and key(s) not in dev_text]
dev = [s for s in dev if key(s) not in test_text]
dev_text = {key(s) for s in dev}
write_conll(test, OUT / "eval" / "wn-test.conll")
write_conll(dev, OUT / "eval" / "wn-dev.conll")
counts["train"] = to_docbin(train, "it", OUT / "train.spacy")
counts["dev"] = to_docbin(dev, "it", OUT / "dev.spacy")
blocked = test_text | dev_text
extra = [s for n in ("FIC_train", "ADG_train") for s in read_conll(RAW / f"{n}.tsv") if key(s) not in blocked]
counts["extra_fic_adg"] = to_docbin(train + extra, "it", OUT.parent / "it-kind" / "train.spacy") - len(train)
to_docbin(dev, "it", OUT.parent / "it-kind" / "dev.spacy")
silver = usable_silver((s for n in ("val", "test") for s in read_wikineural(RAW / f"wikineural-{n}.conllu")), blocked)
counts["wikineural_silver"] = to_docbin(silver, "it", OUT.parent / "it-wn" / "train.spacy")
to_docbin(dev, "it", OUT.parent / "it-wn" / "dev.spacy")
for name, ss in (("train", train), ("dev", dev), ("test", test), ("extra", extra), ("silver", silver)):
    counts[f"tokens_{name}"] = sum(len(s.tokens) for s in ss)
    counts[f"ents_{name}"] = entity_counts(ss)
print(json.dumps(counts))
