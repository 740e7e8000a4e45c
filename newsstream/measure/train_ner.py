"""Train the project's own spaCy NER pipelines (`de_newsstream_ner`, `es_newsstream_ner`, ...).

The recipe, step by step, so that `make models` can rerun it:

1. `prepare(lang, data_dir)` reads the gold files in `data_dir` (formats below) and writes
   `train.spacy` and `dev.spacy` there (and for German `heldout.tsv`, the evaluation fifth).
2. `train(lang, data_dir, out_dir, config_path, seed)` runs spaCy's own training loop; the dev
   split picks the best checkpoint (`out_dir/model-best`). The test files are never read here. German 0.3.0
   trains twice: `prepare_wikiann` + `configs/de-wikiann.cfg` on WikiANN silver, then `configs/de.cfg`
   (which sources that ner, `paths.source_ner`) on the gold train set (`main(... --wikiann DIR)`).
3. `package(model_dir, lang, dist_dir)` builds `<lang>_newsstream_ner-<version>-py3-none-any.whl`.

Formats: CoNLL-2002/2003 columns (token first, NE tag last, IOB1 or IOB2, with or without POS),
GermEval 2014 TSV (outer layer; `*deriv` -> MISC, `*part` -> O, OTH -> MISC, as the project's
`eval-ner` scores them) and WikiANN as in davidsbatista/NER-datasets (`lang:token TAG`).

Only spaCy is imported: the rest of the project must not be needed to rebuild a model.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

VERSION = "0.1.0"
# Per-language package versions where a language was retrained after 0.1.0 (German 0.2.0: static vectors;
# 0.3.0: vectors on all Bundestag sessions with the floret table halved to 25,000 buckets, and a first training
# phase on WikiANN silver data that the gold phase fine-tunes: wheel 34 -> 24.9 MB, held-out F 0.590 -> 0.617;
# 0.4.0: a first phase on WikiANN + Legal NER + Europeana + EuroParl, the gold phase at half the learning rate).
VERSIONS = {"de": "0.5.0"}
# The licence a wheel's metadata states, where its training data set one (the others: research use).
LICENCES = {"it": "non-commercial use only: CC BY-NC-SA 4.0 (WikiNEuRal, first phase), CC BY-NC 4.0 (KIND)"}
NAME = "newsstream_ner"
LABELS = ("PER", "LOC", "ORG", "MISC")
REPO_MODELS = Path(__file__).resolve().parents[2] / "models"

# The project's tagging path turns typographic quotes and dashes into ASCII before the model sees
# the text (processors.clean.normalise_for_nlp); the training text gets the same, one char for one.
_ASCII = str.maketrans(
    {
        **dict.fromkeys("’‘‚‛′‹›´", "'"),
        **dict.fromkeys("«»“”„‟″‶〝〞", '"'),
        **dict.fromkeys("‐‑‒–—―−", "-"),
        "…": ".",
    }
)
_TAG_MAP = {"PER": "PER", "LOC": "LOC", "ORG": "ORG", "MISC": "MISC", "OTH": "MISC"}


@dataclass(frozen=True)
class Sentence:
    """Tokens with IOB2 tags over LABELS; `source` keeps the original lines where a file is rewritten."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    source: str = ""


def normalise_tag(tag: str) -> tuple[str, str]:
    """(prefix, label) of a gold tag in our four labels; ("O", "") for anything not scored as a name.

    GermEval's `*deriv` ("deutschen") become MISC like CoNLL's nationality adjectives; `*part`
    ("EU-Verordnung") become O: the token is not a name and spaCy cannot tag part of a token.
    """
    prefix, _, kind = tag.partition("-")
    if not kind or tag == "O" or kind.endswith("part"):
        return "O", ""
    if kind.endswith("deriv"):
        return prefix, "MISC"
    label = _TAG_MAP.get(kind)
    return (prefix, label) if label else ("O", "")


def to_iob2(tags: Sequence[str]) -> tuple[str, ...]:
    """IOB2 tags over LABELS from IOB1, IOB2 or GermEval tags: an I- after another type starts an entity."""
    out: list[str] = []
    previous = ""
    for tag in tags:
        prefix, label = normalise_tag(tag)
        if not label:
            out.append("O")
        elif prefix == "I" and previous == label:
            out.append(f"I-{label}")
        else:
            out.append(f"B-{label}")
        previous = label
    return tuple(out)


def read_conll_raw(path: Path) -> list[Sentence]:
    """CoNLL-2002/2003-style columns: token first, tag last (as it is in the file), blank line
    between sentences."""
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        columns = line.split()
        if columns and columns[0] != "-DOCSTART-":
            tokens.append(columns[0])
            tags.append(columns[-1])
        elif tokens:
            sentences.append(Sentence(tuple(tokens), tuple(tags)))
            tokens, tags = [], []
    return sentences


def read_conll(path: Path) -> list[Sentence]:
    """CoNLL columns with the tags made IOB2."""
    return [Sentence(sentence.tokens, to_iob2(sentence.tags)) for sentence in read_conll_raw(path)]


def read_wikiann(path: Path) -> list[Sentence]:
    """WikiANN as in davidsbatista/NER-datasets: `lang:token TAG` columns (silver, Wikipedia links)."""
    return [
        Sentence(tuple(token.partition(":")[2] or token for token in sentence.tokens), sentence.tags)
        for sentence in read_conll(path)
    ]


_HAREM_LABELS = {"PESSOA": "PER", "LOCAL": "LOC", "ORGANIZACAO": "ORG"}


def read_harem(path: Path) -> list[Sentence]:
    """HAREM in the Paramopama CoNLL version (`corpus_First_HAREM.txt`, `corpus_miniHAREM.txt`): `token CATEGORY`.

    No IOB prefixes: a run of tokens with one category is one entity (two adjacent names of one type
    merge, as the files cannot tell them apart). PESSOA -> PER, LOCAL -> LOC, ORGANIZACAO -> ORG;
    TEMPO and VALOR (dates, amounts: not names) -> O. The files keep only these five categories, so
    there is no MISC (HAREM's OBRA, ACONTECIMENTO, ABSTRACCAO, COISA are already O there).
    """
    sentences: list[Sentence] = []
    for sentence in read_conll_raw(path):
        tags: list[str] = []
        previous = ""
        for category in sentence.tags:
            label = _HAREM_LABELS.get(category, "")
            tags.append("O" if not label else f"I-{label}" if label == previous else f"B-{label}")
            previous = label
        sentences.append(Sentence(sentence.tokens, tuple(tags)))
    return sentences


def read_wikineural(path: Path) -> list[Sentence]:
    """WikiNEuRal (`Babelscape/wikineural`, `data/wikineural/<lang>/*.conllu`): `index token TAG` rows, IOB2,
    PER/LOC/ORG/MISC (silver: Wikipedia links + a neural tagger), a blank line between sentences."""
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        columns = line.split("\t")
        if len(columns) >= 3 and columns[0].isdigit():
            tokens.append(columns[1])
            tags.append(columns[-1])
        elif tokens:
            sentences.append(Sentence(tuple(tokens), to_iob2(tags)))
            tokens, tags = [], []
    return sentences


def write_conll(sentences: Iterable[Sentence], path: Path) -> None:
    """`token TAG` lines (IOB2), a blank line after each sentence: what `newsstream measure eval-ner` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("".join(f"{t} {g}\n" for t, g in zip(s.tokens, s.tags)) + "\n" for s in sentences),
                    encoding="utf-8")


def fifth_split(sentences: Sequence[Sentence]) -> tuple[list[Sentence], list[Sentence]]:
    """(train, dev) of one gold training file: sentence i (from 0) goes to dev iff i % 5 == 4."""
    return ([s for i, s in enumerate(sentences) if i % 5 != 4], [s for i, s in enumerate(sentences) if i % 5 == 4])


_EUROPEANA_LABELS = ("PER", "LOC", "ORG")


def read_europeana(path: Path, max_tokens: int = 80) -> list[Sentence]:
    """Europeana Newspapers NER (`EuropeanaNewspapers/ner-corpora`, `enp_DE.*.bio`): `token TAG` lines.

    Historic OCR text, gold tags over PER/LOC/ORG only (IOB1, I- may open an entity; stray tags
    such as `B-PEr`, `B_LOC`, `B-BER` are repaired or dropped to O); lines that are not two columns
    (file names, URLs) are skipped. The files have no sentence breaks: a sentence ends after a
    `.`, `!` or `?` token, or (outside an entity) once it reaches `max_tokens`.
    """
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if tokens:
            sentences.append(Sentence(tuple(tokens), to_iob2(tags)))
        tokens.clear()
        tags.clear()

    for line in path.read_text(encoding="utf-8").splitlines():
        columns = line.split()
        if len(columns) != 2:
            continue
        token, tag = columns[0], columns[1].upper().replace("_", "-").replace(".", "-")
        prefix, _, label = tag.partition("-")
        if prefix not in ("B", "I") or label not in _EUROPEANA_LABELS:
            tag = "O"
        if tag == "O" and len(tokens) >= max_tokens:
            flush()
        tokens.append(token)
        tags.append(tag)
        if token in (".", "!", "?"):
            flush()
    flush()
    return sentences


def read_germeval(path: Path) -> list[Sentence]:
    """GermEval 2014 TSV: `#` line per sentence, then `index token outer nested`; the outer layer."""
    sentences: list[Sentence] = []
    lines: list[str] = []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.strip():
            lines.append(line)
            continue
        rows = [row.split("\t") for row in lines if row.split("\t")[0].isdigit()]
        if rows:
            tokens = tuple(row[1] for row in rows)
            sentences.append(Sentence(tokens, to_iob2([row[2] for row in rows]), "\n".join(lines) + "\n"))
        lines = []
    return sentences


def germeval_split(path: Path) -> tuple[list[Sentence], list[Sentence]]:
    """(train pool, held-out) of the GermEval 2014 test file: sentence i (from 0) is held out iff i % 5 == 4.

    GermEval's own train file is not available anywhere, so its test file is re-split; the held-out
    fifth (1,020 of 5,100 sentences) is the German evaluation set and is never trained or tuned on.
    """
    sentences = read_germeval(path)
    return (
        [s for i, s in enumerate(sentences) if i % 5 != 4],
        [s for i, s in enumerate(sentences) if i % 5 == 4],
    )


def write_germeval(sentences: Iterable[Sentence], path: Path) -> None:
    """The sentences' original GermEval lines, so `newsstream eval-ner` reads the file as the original."""
    path.write_text("".join(f"{s.source}\n" for s in sentences), encoding="utf-8")


def to_docbin(sentences: Iterable[Sentence], lang: str, path: Path) -> int:
    """One Doc per sentence in a DocBin at `path`; returns the number of sentences written."""
    import spacy
    from spacy.tokens import Doc, DocBin

    nlp = spacy.blank(lang)
    docbin = DocBin(store_user_data=False)
    count = 0
    for sentence in sentences:
        words = [token.translate(_ASCII) for token in sentence.tokens]
        docbin.add(Doc(nlp.vocab, words=words, ents=list(sentence.tags)))
        count += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    docbin.to_disk(path)
    return count


def mention_replace(sentences: Sequence[Sentence], copies: int = 1, seed: int = 0,
                    labels: Sequence[str] = ("PER", "LOC", "ORG")) -> list[Sentence]:
    """Mention-replacement augmentation: `copies` new versions of every sentence that has an entity of
    `labels`, each such entity swapped for a random mention of the same label taken from `sentences` (the
    training sentences only, so no dev or held-out name gets in); context and other entities (MISC: mostly
    inflected adjectives, "deutschen") stay as they are."""
    import random

    def spans(sentence: Sentence) -> list[tuple[int, int, str]]:
        found: list[tuple[int, int, str]] = []
        for i, tag in enumerate(sentence.tags):
            if tag.startswith("B-"):
                found.append((i, i + 1, tag[2:]))
            elif tag.startswith("I-") and found and found[-1][1] == i:
                found[-1] = (found[-1][0], i + 1, found[-1][2])
        return found

    mentions: dict[str, list[tuple[str, ...]]] = {}
    for sentence in sentences:
        for start, end, label in spans(sentence):
            if label in labels:
                mentions.setdefault(label, []).append(sentence.tokens[start:end])
    rng = random.Random(seed)
    out: list[Sentence] = []
    for _ in range(copies):
        for sentence in sentences:
            found = [span for span in spans(sentence) if span[2] in labels]
            if not found:
                continue
            tokens: list[str] = []
            tags: list[str] = []
            position = 0
            for start, end, label in found:
                tokens += sentence.tokens[position:start]
                tags += sentence.tags[position:start]
                mention = rng.choice(mentions[label])
                tokens += mention
                tags += [f"B-{label}"] + [f"I-{label}"] * (len(mention) - 1)
                position = end
            tokens += sentence.tokens[position:]
            tags += sentence.tags[position:]
            out.append(Sentence(tuple(tokens), tuple(tags)))
    return out


def _alternate(sentences: Sequence[Sentence]) -> tuple[list[Sentence], list[Sentence]]:
    """(even, odd) sentences: halves of one file that cover its whole range of documents and dates."""
    return list(sentences[0::2]), list(sentences[1::2])


def prepare(lang: str, data_dir: Path, germeval_test: Path | None = None, europarl: bool = False,
            europeana: bool = False, germeval_repeat: int = 1, out_dir: Path | None = None,
            augment: int = 0) -> dict[str, int]:
    """Writes `train.spacy` / `dev.spacy` (and German `heldout.tsv`) in `data_dir`; sentence counts.

    de: train = GermEval test minus held-out fifth (4,080) + odd GermEval dev sentences (1,100);
        dev = even GermEval dev sentences (1,100). `europarl` adds EuroParl German NER train
        (`europarl-train.tsv`, 3,184): off, because it lowered the dev F (0.566 vs 0.580, config B,
        dropout 0.1). `europeana` adds Europeana Newspapers German gold (`enp_DE.{lft,onb,sbb}.bio`,
        4,914 cut sentences; PER/LOC/ORG only), `germeval_repeat` upsamples the GermEval part:
        off, because Europeana + GermEval x2 lowered the dev F (0.570 vs 0.582, config B, dropout
        0.2). `augment` adds that many mention-replaced copies of the GermEval train sentences
        (`mention_replace`). `out_dir` (default `data_dir`) is where train.spacy / dev.spacy are written.
    es, nl, ...: train = `<x>.train`, dev = `<x>.testa` (CoNLL-2002); `testb` is never read here.
    it, pt, ...: WikiANN `train` / `dev` (silver), if no gold train set is given.
    """
    counts: dict[str, int] = {}
    if lang == "de":
        pool, heldout = germeval_split(germeval_test or data_dir / "NER-de-test.tsv")
        write_germeval(heldout, data_dir / "heldout.tsv")
        dev, dev_train = _alternate(read_germeval(data_dir / "NER-de-dev.tsv"))
        extra = read_conll(data_dir / "europarl-train.tsv") if europarl else []
        enp = [s for name in ("lft", "onb", "sbb") for s in read_europeana(data_dir / f"enp_DE.{name}.bio")] if europeana else []
        augmented = mention_replace(pool + dev_train, augment) if augment else []
        counts |= {"germeval_test_pool": len(pool), "germeval_dev_train": len(dev_train), "europarl": len(extra),
                   "europeana": len(enp), "germeval_repeat": germeval_repeat, "augmented": len(augmented)}
        counts["heldout"] = len(heldout)
        train_sents, dev_sents = (pool + dev_train) * germeval_repeat + augmented + extra + enp, dev
    elif (data_dir / "train").exists() and not any(data_dir.glob("*.train")):
        train_sents, dev_sents = read_wikiann(data_dir / "train"), read_wikiann(data_dir / "dev")
    else:
        prefix = {"es": "esp", "nl": "ned"}.get(lang, lang)
        train_sents = read_conll(data_dir / f"{prefix}.train")
        dev_sents = read_conll(data_dir / f"{prefix}.testa")
    out_dir = out_dir or data_dir
    counts["train"] = to_docbin(train_sents, lang, out_dir / "train.spacy")
    counts["dev"] = to_docbin(dev_sents, lang, out_dir / "dev.spacy")
    return counts


def wikiann_silver(data_dir: Path, raw_dir: Path, germeval_test: Path | None = None) -> list[Sentence]:
    """WikiANN de train/dev/test (`raw_dir/wikiann-{train,dev,test}`, silver PER/LOC/ORG, no MISC) for German
    0.3.0's first training phase: sentences of >= 5 tokens, no `WEITERLEITUNG`/`*` list fragments, no
    duplicates, none whose text is a dev-split or held-out sentence (29,263 of 40,000)."""
    _, heldout = germeval_split(germeval_test or data_dir / "NER-de-test.tsv")
    dev, _ = _alternate(read_germeval(data_dir / "NER-de-dev.tsv"))
    return usable_silver((sentence for name in ("train", "dev", "test")
                          for sentence in read_wikiann(raw_dir / f"wikiann-{name}")),
                         {" ".join(s.tokens) for s in heldout + dev})


def usable_silver(sentences: Iterable[Sentence], blocked: set[str]) -> list[Sentence]:
    """Silver sentences fit for a first training phase: >= 5 tokens, no `WEITERLEITUNG`/`*` list fragments,
    no duplicates, none whose text (tokens joined by spaces) is in `blocked` (dev and test sentences)."""
    seen: set[tuple[str, ...]] = set()
    kept: list[Sentence] = []
    for sentence in sentences:
        if (len(sentence.tokens) < 5 or "WEITERLEITUNG" in sentence.tokens
                or any("*" in token for token in sentence.tokens)
                or " ".join(sentence.tokens) in blocked or sentence.tokens in seen):
            continue
        seen.add(sentence.tokens)
        kept.append(sentence)
    return kept


def entity_counts(sentences: Iterable[Sentence]) -> dict[str, int]:
    """Entities per label (IOB2 `B-` tags)."""
    return dict(Counter(tag[2:] for sentence in sentences for tag in sentence.tags if tag.startswith("B-")))


def prepare_wikiann(data_dir: Path, raw_dir: Path, out_dir: Path, germeval_test: Path | None = None) -> dict[str, int]:
    """Phase 1 data of German 0.3.0: `out_dir/train.spacy` = `wikiann_silver`, `out_dir/dev.spacy` = the
    GermEval dev split (as `prepare` writes it); sentence counts."""
    dev, _ = _alternate(read_germeval(data_dir / "NER-de-dev.tsv"))
    return {"train": to_docbin(wikiann_silver(data_dir, raw_dir, germeval_test), "de", out_dir / "train.spacy"),
            "dev": to_docbin(dev, "de", out_dir / "dev.spacy")}


# Legal Entity Recognition (Leitner et al., CC BY 4.0; SuperGLEBer `data/NER/Legal/{dev,test}.conll`): its 19
# fine types on our labels. Judges, lawyers and persons are PER; courts, institutions, companies and other
# organisations ORG; countries, cities, streets and landscapes LOC; brands MISC; laws, rulings, regulations,
# contracts and literature are not names here (O).
LEGAL_MAP = {"PER": "PER", "RR": "PER", "AN": "PER", "GRT": "ORG", "INN": "ORG", "UN": "ORG", "ORG": "ORG",
             "LD": "LOC", "ST": "LOC", "STR": "LOC", "LDS": "LOC", "MRK": "MISC"}


def read_legal(path: Path) -> list[Sentence]:
    """Legal NER CoNLL (`token TAG`, IOB2 over LEGAL_MAP's fine types), tags mapped to PER/LOC/ORG/MISC or O."""
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        columns = line.split()
        if columns:
            prefix, _, kind = columns[-1].partition("-")
            tokens.append(columns[0])
            tags.append(f"{prefix}-{LEGAL_MAP[kind]}" if kind in LEGAL_MAP else "O")
        elif tokens:
            sentences.append(Sentence(tuple(tokens), to_iob2(tags)))
            tokens, tags = [], []
    return sentences


def phase1_silver(data_dir: Path, raw_dir: Path, sources: Sequence[str], germeval_test: Path | None = None,
                  legal_min_entities: int = 1) -> list[Sentence]:
    """Phase-1 sentences from `sources` (in order): "wikiann" (`wikiann_silver`), "legal" (Legal NER dev/test,
    only sentences with >= `legal_min_entities` PER/LOC/ORG/MISC), "europeana" (`enp_DE.*.bio`), "europarl"
    (EuroParl NER train/dev/test), "gold" (the GermEval train part, 5,180); dev-split/held-out texts dropped."""
    _, heldout = germeval_split(germeval_test or data_dir / "NER-de-test.tsv")
    dev, _ = _alternate(read_germeval(data_dir / "NER-de-dev.tsv"))
    blocked = {" ".join(s.tokens) for s in heldout + dev}
    parts: dict[str, Callable[[], list[Sentence]]] = {
        "wikiann": lambda: wikiann_silver(data_dir, raw_dir, germeval_test),
        "legal": lambda: [s for n in ("dev", "test") for s in read_legal(raw_dir / f"legal-{n}.conll")
                          if sum(t.startswith("B-") for t in s.tags) >= legal_min_entities],
        "europeana": lambda: [s for n in ("lft", "onb", "sbb") for s in read_europeana(raw_dir / f"enp_DE.{n}.bio")],
        "europarl": lambda: [s for n in ("train", "dev", "test") for s in read_conll(raw_dir / f"europarl-{n}.tsv")],
        "gold": lambda: germeval_split(germeval_test or data_dir / "NER-de-test.tsv")[0]
        + _alternate(read_germeval(data_dir / "NER-de-dev.tsv"))[1],
    }
    return [s for name in sources for s in parts[name]() if " ".join(s.tokens) not in blocked]


def prepare_phase1(data_dir: Path, raw_dir: Path, out_dir: Path, sources: Sequence[str],
                   germeval_test: Path | None = None) -> dict[str, int]:
    """A richer phase 1 than `prepare_wikiann`: `out_dir/train.spacy` = `phase1_silver(sources)`, shuffled
    (seed 0) so no source comes in one block; `out_dir/dev.spacy` = the GermEval dev split; sentence counts."""
    import random

    sentences = phase1_silver(data_dir, raw_dir, sources, germeval_test)
    random.Random(0).shuffle(sentences)
    dev, _ = _alternate(read_germeval(data_dir / "NER-de-dev.tsv"))
    return {"train": to_docbin(sentences, "de", out_dir / "train.spacy"),
            "dev": to_docbin(dev, "de", out_dir / "dev.spacy")}


# --- Static vectors (German 0.2.0, 0.3.0): floret vectors trained on open raw German text ------------------

# mathias-goebel/plenarsitzungsprotokolle: Bundestag plenary speeches (20th period), official documents.
BUNDESTAG_REPO = "mathias-goebel/plenarsitzungsprotokolle"
BUNDESTAG_COMMIT = "fc6207104f5d7fe5f1e96a4d6664a5b91abc967a"


def _git_show_many(git_dir: Path, commit: str, paths: Sequence[str]) -> list[bytes]:
    """The blobs `commit:path` of a bare git directory, in order (one `git cat-file --batch`)."""
    query = "".join(f"{commit}:{path}\n" for path in paths).encode()
    out = subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "--batch"], input=query,
                         capture_output=True, check=True).stdout
    blobs, pos = [], 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        size = int(out[pos:end].split()[2])
        blobs.append(out[end + 1:end + 1 + size])
        pos = end + 2 + size
    return blobs


def read_bundestag(git_dir: Path, commit: str = BUNDESTAG_COMMIT, all_sessions: bool = True) -> list[str]:
    """Paragraphs (>= 5 words) of the speech files `*-ID<digits>.txt` of every session (German 0.3.0; with
    `all_sessions=False` only the odd-numbered ones, 001, 003, ..., as for 0.2.0) in a snapshot of BUNDESTAG_REPO;
    the `-<hash>.txt` copies and `komplett.txt` files are duplicates, skipped."""
    import re

    names = subprocess.run(["git", "--git-dir", str(git_dir), "ls-tree", "-r", "--name-only", commit],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    picked = sorted(n for n in names
                    if re.search(r"-ID\d+\.txt$", n) and (all_sessions or int(n.split("/")[1]) % 2 == 1))
    return [paragraph.strip() for blob in _git_show_many(git_dir, commit, picked)
            for paragraph in blob.decode("utf-8", "replace").split("\n") if len(paragraph.split()) >= 5]


def write_raw_text(sentences: Iterable[Sentence], paragraphs: Iterable[str], path: Path) -> int:
    """One line per sentence/paragraph, tokens space-joined (paragraphs by spaCy's blank German tokenizer),
    ASCII-mapped like the training text; returns the number of tokens written."""
    import spacy

    nlp = spacy.blank("de")
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for sentence in sentences:
            out.write(" ".join(sentence.tokens).translate(_ASCII) + "\n")
            count += len(sentence.tokens)
        for doc in nlp.pipe(paragraphs, batch_size=2000):
            tokens = [token.text for token in doc if not token.is_space]
            out.write(" ".join(tokens).translate(_ASCII) + "\n")
            count += len(tokens)
    return count


def read_conllu_tokens(path: Path) -> list[Sentence]:
    """The FORM column of a CoNLL-U file, one Sentence (all tags O) per sentence."""
    sentences: list[Sentence] = []
    tokens: list[str] = []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        columns = line.split("\t")
        if line.startswith("#"):
            continue
        if len(columns) > 1 and columns[0].isdigit():
            tokens.append(columns[1])
        elif not line.strip() and tokens:
            sentences.append(Sentence(tuple(tokens), ("O",) * len(tokens)))
            tokens = []
    return sentences


def german_raw_text(data_dir: Path, raw_dir: Path, bundestag_git: Path, out: Path,
                    germeval_test: Path | None = None, all_sessions: bool = True) -> int:
    """The raw text of the German vectors (`raw/de-bt2.txt`, 16.0M tokens; 0.2.0: `all_sessions=False`,
    `raw/de-bt.txt`, 8.76M tokens); returns the token count.

    In order: GermEval train part (test pool + odd dev sentences), WikiANN de train/dev/test, Europeana
    `enp_DE.{lft,onb,sbb}.bio`, EuroParl NER train/dev/test, Legal NER dev/test, UP German dev/test (files in
    `raw_dir`: `wikiann-{train,dev,test}`, `enp_DE.*.bio`, `europarl-*.tsv`, `legal-*.conll`, `up-*.conllu`),
    every sentence whose text is a dev-split or held-out sentence dropped; then the Bundestag paragraphs.
    """
    pool, heldout = germeval_split(germeval_test or data_dir / "NER-de-test.tsv")
    dev, dev_train = _alternate(read_germeval(data_dir / "NER-de-dev.tsv"))
    blocked = {" ".join(s.tokens) for s in heldout + dev}
    parts = [
        pool + dev_train,
        [s for n in ("train", "dev", "test") for s in read_wikiann(raw_dir / f"wikiann-{n}")],
        [s for n in ("lft", "onb", "sbb") for s in read_europeana(raw_dir / f"enp_DE.{n}.bio")],
        [s for n in ("train", "dev", "test") for s in read_conll(raw_dir / f"europarl-{n}.tsv")],
        [s for n in ("dev", "test") for s in read_conll(raw_dir / f"legal-{n}.conll")],
        [s for n in ("dev", "test") for s in read_conllu_tokens(raw_dir / f"up-{n}.conllu")],
    ]
    sentences = [s for part in parts for s in part if " ".join(s.tokens) not in blocked]
    return write_raw_text(sentences, read_bundestag(bundestag_git, all_sessions=all_sessions), out)


def train_vectors(raw_text: Path, out_dir: Path, dim: int = 100, bucket: int = 25000, epoch: int = 4) -> Path:
    """floret (cbow, mode floret, hashCount 2, char 4-5-grams, minCount 2, one thread) on `raw_text`, then
    `spacy init vectors --mode floret` into `out_dir` (the `[initialize] vectors` of configs/de.cfg). German 0.3.0:
    25,000 buckets x 100 dims (10 MB; 0.2.0 had 50,000, a 34 MB wheel; 39,000 x 64 scored lower on dev).
    Needs `pip install floret==0.10.5` (a training-time tool only; the model loads without it)."""
    import floret

    model = floret.train_unsupervised(str(raw_text), model="cbow", mode="floret", hashCount=2, bucket=bucket,
                                      minn=4, maxn=5, minCount=2, dim=dim, epoch=epoch, thread=1, verbose=0)
    floret_file = out_dir.with_suffix(".floret")
    model.save_floret_vectors(str(floret_file))
    subprocess.run([sys.executable, "-m", "spacy", "init", "vectors", "de", str(floret_file), str(out_dir),
                    "--mode", "floret"], check=True)
    return out_dir


def train(lang: str, data_dir: Path, out_dir: Path, config_path: Path | None = None, seed: int = 0,
          overrides: dict[str, object] | None = None) -> float:
    """spaCy training on `data_dir/{train,dev}.spacy` into `out_dir`; returns the wall time in seconds.

    The config's `ner` has its own tok2vec (no shared `tok2vec` listener) because the project loads
    NER pipelines with `exclude=["tok2vec", ...]`, like the sm models where that does not matter.
    """
    from spacy.cli.train import train as spacy_train

    config_path = config_path or REPO_MODELS / "configs" / f"{lang}.cfg"
    settings: dict[str, object] = {
        "paths.train": str(data_dir / "train.spacy"),
        "paths.dev": str(data_dir / "dev.spacy"),
        "system.seed": seed,
        **(overrides or {}),
    }
    started = time.perf_counter()
    spacy_train(config_path, out_dir, overrides=settings)
    return time.perf_counter() - started


def minimal_strings(model_dir: Path, out_dir: Path) -> Path:
    """A copy of `model_dir` in `out_dir` whose `vocab/strings.json` keeps only the blank pipeline's strings and
    the ner labels (German 0.4.0: 215,300 -> 1,231 strings, 3.5 MB less before compression, so the wheel stays
    under 25 MB). The ner's features and the floret vectors are hashes of the text, so predictions do not change
    (checked on the dev split: identical entities)."""
    import spacy

    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(model_dir, out_dir)
    nlp = spacy.load(model_dir)
    keep = set(spacy.blank(nlp.lang).vocab.strings) | set(nlp.get_pipe("ner").labels)
    path = out_dir / "vocab" / "strings.json"
    strings = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps([string for string in strings if string in keep]), encoding="utf-8")
    return out_dir


def package(model_dir: Path, lang: str, dist_dir: Path | None = None, version: str | None = None) -> Path:
    """Builds the wheel `<lang>_newsstream_ner-<version>-py3-none-any.whl` into `dist_dir`; its path.

    A wheel (not the model folder) is what gets versioned: it installs offline with
    `pip install --no-deps models/dist/*.whl` and loads by name with `spacy.load`.
    """
    import tempfile

    from spacy.cli.package import package as spacy_package

    version = version or VERSIONS.get(lang, VERSION)
    dist_dir = dist_dir or REPO_MODELS / "dist"
    dist_dir.mkdir(parents=True, exist_ok=True)
    meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
    meta |= {
        "name": NAME, "version": version, "license": f"{LICENCES.get(lang, 'research use only')} (see models/PROVENANCE.md)",
        "author": "newsstream", "description": f"newsstream NER ({lang}): PER, LOC, ORG, MISC",
        "url": "", "email": "",
    }
    with tempfile.TemporaryDirectory() as tmp:
        meta_path = Path(tmp) / "meta.json"
        meta_path.write_text(json.dumps(meta), encoding="utf-8")
        build = Path(tmp) / "build"
        build.mkdir()
        # spaCy writes the package folder (setup.py, meta, data); pip builds the wheel from it with
        # the venv's own setuptools, offline, so neither `build` nor `wheel` need be installed.
        spacy_package(model_dir, build, meta_path=meta_path, create_meta=False, create_sdist=False,
                      create_wheel=False, force=True, silent=True)
        source = next(build.glob(f"{lang}_{NAME}-{version}"))
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
             "--wheel-dir", str(source / "dist"), str(source)],
            check=True, capture_output=True,
        )
        wheel = next((source / "dist").glob(f"{lang}_{NAME}-{version}-*.whl"))
        target = dist_dir / wheel.name
        shutil.copy2(wheel, target)
    return target


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m newsstream.measure.train_ner LANG --data DIR`: prepare, train, package."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("lang")
    parser.add_argument("--data", type=Path, required=True, help="folder with the gold files (see prepare)")
    parser.add_argument("--out", type=Path, help="training output (default: DATA/training)")
    parser.add_argument("--config", type=Path, help="default: models/configs/LANG.cfg")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--germeval-test", type=Path, default=Path("/work/shared/corpora/ner/de/NER-de-test.tsv"))
    parser.add_argument("--vectors", type=Path, help="spaCy vectors folder for a config with static vectors "
                        "(German: built by `train_vectors(german_raw_text(...))`, see models/PROVENANCE.md)")
    parser.add_argument("--augment", type=int, default=0, help="German: mention-replaced copies of the gold train "
                        "sentences added to train (prepare)")
    parser.add_argument("--wikiann", type=Path, help="German 0.3.0: folder with `wikiann-{train,dev,test}`; "
                        "phase 1 trains configs/de-wikiann.cfg on that silver data, phase 2 fine-tunes it "
                        "(configs/de.cfg sources the phase-1 ner) on the gold train set")
    parser.add_argument("--phase1", default="wikiann", help="German, with --wikiann: comma-separated phase-1 "
                        "sources of `phase1_silver` (wikiann, legal, europeana, europarl, gold; files in the --wikiann "
                        "folder); `wikiann` alone is 0.3.0's `prepare_wikiann`")
    parser.add_argument("--no-package", action="store_true")
    args = parser.parse_args(argv)
    counts = prepare(args.lang, args.data, args.germeval_test if args.lang == "de" else None, augment=args.augment)
    print(json.dumps(counts), file=sys.stderr)
    out = args.out or args.data / "training"
    config_text = (args.config or REPO_MODELS / "configs" / f"{args.lang}.cfg").read_text(encoding="utf-8")
    if "include_static_vectors = true" in config_text and args.vectors is None:
        parser.error("this config uses static vectors: give --vectors DIR (models/PROVENANCE.md)")
    overrides: dict[str, object] = {"paths.vectors": str(args.vectors)} if args.vectors else {}
    if "${paths.source_ner}" in config_text:
        if args.wikiann is None:
            parser.error("this config fine-tunes a phase-1 ner: give --wikiann DIR (models/PROVENANCE.md)")
        phase1_data, phase1_out = args.data / "wikiann-phase1", out.parent / f"{out.name}-phase1"
        sources = args.phase1.split(",")
        phase1_counts = (
            prepare_wikiann(args.data, args.wikiann, phase1_data, args.germeval_test) if sources == ["wikiann"]
            else prepare_phase1(args.data, args.wikiann, phase1_data, sources, args.germeval_test)
        )
        print(json.dumps(phase1_counts), file=sys.stderr)
        seconds = train(args.lang, phase1_data, phase1_out, REPO_MODELS / "configs" / f"{args.lang}-wikiann.cfg",
                        args.seed, overrides)
        print(f"phase 1 trained in {seconds:.0f} s", file=sys.stderr)
        overrides["paths.source_ner"] = str(phase1_out / "model-best")
    seconds = train(args.lang, args.data, out, args.config, args.seed, overrides)
    print(f"trained in {seconds:.0f} s", file=sys.stderr)
    if not args.no_package:
        print(package(out / "model-best", args.lang))


if __name__ == "__main__":
    main()
