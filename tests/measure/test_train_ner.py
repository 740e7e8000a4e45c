from newsstream.measure.train_ner import Sentence, mention_replace


def _sentence(pairs: str) -> Sentence:
    tokens, tags = zip(*(item.rsplit("/", 1) for item in pairs.split()))
    return Sentence(tuple(tokens), tuple(tags))


def test_mention_replace_swaps_names_of_the_same_label_only() -> None:
    sentences = [
        _sentence("Angela/B-PER Merkel/I-PER besucht/O Paris/B-LOC ./O"),
        _sentence("Olaf/B-PER spricht/O in/O Berlin/B-LOC über/O deutschen/B-MISC Stahl/O"),
        _sentence("Nichts/O passiert/O ./O"),
    ]
    out = mention_replace(sentences, copies=2, seed=1)
    assert len(out) == 4  # two copies of the two sentences with a PER/LOC/ORG entity
    mentions = {"PER": {("Angela", "Merkel"), ("Olaf",)}, "LOC": {("Paris",), ("Berlin",)}}
    for sentence in out:
        assert len(sentence.tokens) == len(sentence.tags)
        start = None
        for i, tag in enumerate([*sentence.tags, "O"]):
            if start is not None and not tag.startswith("I-"):
                label = sentence.tags[start][2:]
                if label in mentions:
                    assert sentence.tokens[start:i] in mentions[label]
                start = None
            if tag.startswith("B-"):
                start = i
        if "spricht" in sentence.tokens:  # context and MISC kept
            assert sentence.tokens[-2:] == ("deutschen", "Stahl") and sentence.tags[-2] == "B-MISC"


def test_mention_replace_is_deterministic() -> None:
    sentences = [_sentence("A/B-ORG sagt/O"), _sentence("B/B-ORG C/I-ORG lacht/O")]
    assert mention_replace(sentences, seed=3) == mention_replace(sentences, seed=3)
