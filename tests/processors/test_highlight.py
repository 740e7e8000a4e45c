from processors.analysis import analyze
from processors.highlight import highlight
from schemas import EnrichedArticle, LanguageShare, Paragraph


def article(*paragraphs: tuple[str, str]) -> EnrichedArticle:
    body, parts, start = "", [], 0
    for text, language in paragraphs:
        parts.append(Paragraph(text=text, start=start, end=start + len(text), language=language))
        body += text + "\n\n"
        start += len(text) + 2
    return EnrichedArticle(id="a", title="t", body=body.rstrip(), language="fr",
                           languages=[LanguageShare(code="fr", share=1.0)], paragraphs=parts)


def test_marks_the_inflected_forms_that_matched_and_escapes_the_rest():
    doc = article(("Rien à voir.", "fr"), ("Les <b>sanctions</b> internationales & la Corée.", "fr"))
    [snippet] = highlight(doc, set(analyze("sanction", "fr")))
    assert "<mark>sanctions</mark>" in snippet
    assert "&lt;b&gt;" in snippet and "&amp;" in snippet and "<b>" not in snippet


def test_paragraphs_with_more_matches_come_first():
    doc = article(("One sanction here.", "en"), ("Sanctions upon sanctions.", "en"))
    snippets = highlight(doc, set(analyze("sanctions", "en")))
    assert snippets[0].count("<mark>") == 2 and snippets[1].count("<mark>") == 1


def test_without_a_match_the_article_start_is_shown_unmarked():
    doc = article(("Nothing relevant in this paragraph.", "en"),)
    assert highlight(doc, {"zebra"}) == ["Nothing relevant in this paragraph."]


def test_snippets_of_long_paragraphs_start_and_end_on_word_boundaries():
    text = "Alpha beta gamma delta epsilon. " * 20 + "Die Sanktionen wirken. " + "Omega psi chi phi. " * 20
    [snippet] = highlight(article((text, "de")), set(analyze("Sanktion", "de")))
    assert snippet.startswith("…") and snippet.endswith("…")
    inner = snippet.strip("…")
    assert inner.split()[0] in text.split() and inner.split()[-1] in text.split()
    assert "<mark>Sanktionen</mark>" in snippet
