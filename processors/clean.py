"""The clean stage: markup and broken Unicode repaired, page junk dropped, credit lines set apart.

The display text keeps typographic apostrophes and quotes; `normalise_for_nlp` gives the NLP
stages an ASCII-punctuated copy of the same length, so offsets found there hold in the display text.

A body that is a whole web page (see `is_whole_page`) is first reduced to its main text by
trafilatura, which leaves out navigation, banners, related links and footers; fragments are only
stripped of their markup.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from types import ModuleType

import ftfy
from selectolax.lexbor import LexborHTMLParser, LexborNode

from schemas.articles import Paragraph
from schemas.cleaned import CleanedArticle

PARAGRAPH_SEPARATOR = "\n\n"

# --- Unicode and layout -------------------------------------------------------------------------

# Repair mojibake but keep ’ « » “ ”: the reader sees them; NLP gets them through normalise_for_nlp.
_FTFY_CONFIG = ftfy.TextFixerConfig(uncurl_quotes=False, explain=False)

_SPACE_SEPARATORS = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_INVISIBLE = "\u200b\u2060\ufeff\u00ad"  # zero-width space, word joiner, BOM, soft hyphen
_LAYOUT = str.maketrans(
    {
        **dict.fromkeys(_SPACE_SEPARATORS + "\t", " "),
        **dict.fromkeys(_INVISIBLE, None),
        "\r": "\n",
        "\u2028": "\n",
        # A page break or vertical tab separates paragraphs.
        "\f": PARAGRAPH_SEPARATOR,
        "\v": PARAGRAPH_SEPARATOR,
    }
)

_NLP_ASCII = str.maketrans(
    {
        **dict.fromkeys("’‘‚‛′‹›´", "'"),
        **dict.fromkeys("«»“”„‟″‶〝〞", '"'),
        **dict.fromkeys("‐‑‒–—―−", "-"),
        "…": ".",
        **dict.fromkeys(_SPACE_SEPARATORS, " "),
    }
)


def normalise_for_nlp(text: str) -> str:
    """Typographic quotes, dashes, ellipsis and odd spaces as ASCII, one character for one:
    the result has the same length, so offsets into it are offsets into `text`."""
    return text.translate(_NLP_ASCII)


# --- Markup -------------------------------------------------------------------------------------

_HTML_ELEMENTS = (
    "a|abbr|address|article|aside|audio|b|blockquote|body|br|button|canvas|caption|center|cite|code|dd|"
    "details|div|dl|dt|em|embed|figcaption|figure|font|footer|form|h[1-6]|head|header|hr|html|i|iframe|"
    "img|input|label|li|link|main|meta|nav|noscript|object|ol|p|picture|pre|q|s|section|small|source|"
    "span|strong|style|sub|summary|sup|svg|script|table|tbody|td|template|th|thead|time|title|tr|u|ul|video"
)
# Known element names only, so that plain text such as "a < b" or "<3" is not taken for markup.
_MARKUP = re.compile(rf"<(?:!--|!doctype\b|/?(?:{_HTML_ELEMENTS})\b[^<>]*>)", re.IGNORECASE)
_DROPPED_ELEMENTS = frozenset(
    {"script", "style", "noscript", "iframe", "template", "head", "svg", "canvas", "object", "embed"}
)
_BLOCK_ELEMENTS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "summary", "table", "tr", "ul",
    }
)
_CELL_ELEMENTS = frozenset({"td", "th"})
_HTML_WHITESPACE = re.compile(r"[ \t\n\r\f]+")


def _markup_to_text(html: str) -> str:
    """Text of an HTML fragment or page, a blank line between block elements (entities unescaped)."""
    return _node_text(LexborHTMLParser(html).root)


def _node_text(root: LexborNode | None, dropped: frozenset[str] = _DROPPED_ELEMENTS) -> str:
    """Text under `root`, a blank line between block elements, the `dropped` elements left out."""
    pieces: list[str] = []
    # Iterative walk: deeply nested markup must not hit the recursion limit. A string on the stack
    # is the separator that closes an element, emitted once its children are done.
    stack: list[LexborNode | str] = [root] if root is not None else []
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            pieces.append(item)
        elif item.is_text_node:
            pieces.append(_HTML_WHITESPACE.sub(" ", item.text_content or ""))
        elif item.is_element_node and item.tag not in dropped:
            separator = (
                PARAGRAPH_SEPARATOR if item.tag in _BLOCK_ELEMENTS else " " if item.tag in _CELL_ELEMENTS else ""
            )
            if separator:
                pieces.append(separator)
                stack.append(separator)
            stack.extend(reversed(list(item.iter(include_text=True))))
    return "".join(pieces)


def _repaired(text: str) -> str:
    # ftfy turns the paragraph separator into a single newline; it means a paragraph break.
    return ftfy.fix_text(text.replace("\u2029", PARAGRAPH_SEPARATOR), _FTFY_CONFIG)


def _tidy(text: str) -> str:
    """One kind of line break and space, each line trimmed."""
    return "\n".join(" ".join(line.split()) for line in text.translate(_LAYOUT).split("\n"))


def _stripped(text: str) -> str:
    """Markup gone, if there is any."""
    return _markup_to_text(text) if _MARKUP.search(text) else text


def _plain_text(text: str) -> str:
    """Repaired Unicode, markup gone, one kind of line break and space, each line trimmed."""
    return _tidy(_stripped(_repaired(text)))


# --- Whole pages --------------------------------------------------------------------------------

# A whole page, as opposed to a fragment of the article's own markup, is told by
#   1. a document's own elements: a doctype, <html> or <body>; or
#   2. a <nav>: navigation is never part of an article's text; or
#   3. two or more different sectioning landmarks among <header>, <footer>, <aside>, <main>,
#      <article>: a lone <article> wrapper or <aside> pull quote is still a fragment.
# Only opening tags count, and comments are skipped, so "<!-- <nav> -->" or text that mentions
# "<html" in prose (no tag after it) does not make a page.
_DOCUMENT_TAG = re.compile(r"<(?:!doctype\s+html|html|body)\b[^<>]*>", re.IGNORECASE)
_NAV_TAG = re.compile(r"<nav\b[^<>]*>", re.IGNORECASE)
_LANDMARK_TAG = re.compile(r"<(header|footer|aside|main|article)\b[^<>]*>", re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_MIN_LANDMARKS = 2

# Below this, trafilatura's main text is too little to trust over the page's whole text: on a tiny
# page its precision filter drops headings and lists, and there is hardly any furniture to remove.
MIN_MAIN_TEXT_CHARS = 200
# The options that keep paragraphs and leave out what is not the article (as ingest/feeds/extract.py).
_EXTRACT_OPTIONS = {
    "output_format": "txt",
    "favor_precision": True,
    "include_comments": False,
    "include_tables": False,
    "include_images": False,
    "include_links": False,
    "with_metadata": False,
    "deduplicate": False,
}
# trafilatura's text output starts a list item with "- " (indented when nested).
_LIST_MARKER = re.compile(r"^\s*- ")
# Credit lines are looked for in the article's region of the page, which trafilatura may have cut
# ("By Jane Doe, Reuters" in a class="byline" element). The page's furniture is left out of it.
_FURNITURE = frozenset({"nav", "aside", "form", "button", "dialog"})
_SITE_FURNITURE = frozenset({"header", "footer"})  # left out only outside <article>/<main>


def is_whole_page(html: str) -> bool:
    """The body is a whole web page (rules above), not a fragment of the article's markup."""
    if "<" not in html:
        return False
    html = _COMMENT.sub(" ", html)
    if _DOCUMENT_TAG.search(html) or _NAV_TAG.search(html):
        return True
    return len({tag.lower() for tag in _LANDMARK_TAG.findall(html)}) >= _MIN_LANDMARKS


@lru_cache(maxsize=1)
def _trafilatura() -> ModuleType:
    # Imported on the first whole page: it takes a third of a second and most bodies never need it.
    import trafilatura

    return trafilatura


def _main_text(page: str) -> str | None:
    """The page's main text, a blank line between paragraphs; None when trafilatura finds too little
    (or fails), so that the caller strips the markup instead."""
    try:
        extracted = _trafilatura().extract(page, **_EXTRACT_OPTIONS)
    except Exception:  # noqa: BLE001 - a page trafilatura cannot read still has its markup stripped
        return None
    lines = [_LIST_MARKER.sub("", line).strip() for line in (extracted or "").split("\n")]
    lines = [line for line in lines if line]
    if sum(map(len, lines)) < MIN_MAIN_TEXT_CHARS:
        return None
    return PARAGRAPH_SEPARATOR.join(lines)


def _article_region_text(page: str) -> str:
    """Text of the page's article: its largest <article>, else <main>, else <body>, furniture left out."""
    parser = LexborHTMLParser(page)
    dropped = _DROPPED_ELEMENTS | _FURNITURE
    articles = parser.css("article")
    if articles:
        region = max(articles, key=lambda node: len(node.text(deep=True) or ""))
    else:
        region = parser.css_first("main")
    if region is None:
        region = parser.body or parser.root
        dropped |= _SITE_FURNITURE
    return _tidy(_node_text(region, dropped))


def _page_credits(page: str, main_text: str, main_credits: list[str]) -> list[str]:
    """Credit lines of a page in page order: those of its main text, and those of the article's
    region that trafilatura left out (a byline, a photo credit)."""
    main_lines = set(main_text.split("\n"))
    found = set(main_credits)
    credits = [
        line for line in _article_region_text(page).split("\n")
        if line in found or (line and line not in main_lines and credit_agencies(line))
    ]
    return list(dict.fromkeys([*credits, *main_credits]))


def _headline_key(text: str) -> str:
    return " ".join(normalise_for_nlp(text).casefold().split()).strip(" .:;!?'\"-")


# --- Credit lines -------------------------------------------------------------------------------

_AGENCY_ALIASES: dict[str, tuple[str, ...]] = {
    # Wire and photo agencies
    "AFP": ("afp", "agence france-presse", "agence france presse"),
    "Reuters": ("reuters",),
    "AP": ("ap", "associated press"),
    "dpa": ("dpa", "deutsche presse-agentur"),
    "ATS": ("ats",),
    "SDA": ("sda",),
    "Keystone-ATS": ("keystone-ats",),
    "Keystone-SDA": ("keystone-sda",),
    "Keystone": ("keystone",),
    "ANSA": ("ansa",),
    "EFE": ("efe",),
    "APA": ("apa",),
    "AGI": ("agi",),
    "Belga": ("belga",),
    "ANP": ("anp",),
    "Europa Press": ("europa press",),
    "Lusa": ("lusa",),
    "PAP": ("pap",),
    "KNA": ("kna",),
    "epd": ("epd",),
    "Xinhua": ("xinhua",),
    "TASS": ("tass",),
    "Interfax": ("interfax",),
    "Kyodo": ("kyodo",),
    "Yonhap": ("yonhap",),
    "UPI": ("upi",),
    "Bloomberg": ("bloomberg",),
    # Publishers that sign as a credit
    "20 Minutes": ("20 minutes", "20 minuten", "20 minuti"),
    "RTS": ("rts",),
    "SRF": ("srf",),
    "RSI": ("rsi",),
    "BBC": ("bbc",),
    "CNN": ("cnn",),
}
_AGENCY_BY_ALIAS = {alias: name for name, aliases in _AGENCY_ALIASES.items() for alias in aliases}
_AGENCY = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(alias).replace(r"\ ", r"\s+") for alias in sorted(_AGENCY_BY_ALIAS, key=len, reverse=True))
    + r")(?![\w-])",
    re.IGNORECASE,
)
_SITE_NAME = re.compile(
    r"^(?:www\.)?((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"(?:com|net|org|info|news|eu|ch|fr|de|at|it|es|be|lu|nl|uk|ie|pt|ca|us|pl|se|no|dk|fi|cz|ru|ua|in|jp|br|ar|mx|au))$",
    re.IGNORECASE,
)
# Words a credit line is made of besides agency names: "Text by … with …", "© … 2023", "Source : …".
_CREDIT_WORDS = frozenset(
    "text texte testo texto by par von di da de por with avec mit con and et und e y the le la les l' l’ "
    "source sources quelle fonte fuente copyright © photo photos foto fotos bild image images "
    "agency agencies agence agences agentur agenturen agenzia agenzie agencia agencias "
    "staff rédaction redaktion redazione redacción material".split()
)
# After one of these a credit line may name its author: "Par Jean Dupont avec AFP".
_BYLINE_OPENERS = frozenset("by par von di por de text texte testo texto photo foto bild image".split())
_CREDIT_SEPARATORS = re.compile(r"[\s/,;:.()\[\]|+&•·–—-]+")
_MAX_CREDIT_CHARS = 100
_MAX_CREDIT_TOKENS = 14
_MAX_BYLINE_NAMES = 4
_MAX_INITIALS_LENGTH = 4


def credit_agencies(line: str) -> list[str]:
    """Canonical agency, publisher or site names credited by `line`; empty when it is not a credit
    line (`Text by 20 Minutes with AFP`, `RTS afp/fgn`, `© AFP 2023`, `Par Jean Dupont avec AFP`, `20min.ch`)."""
    text = " ".join(line.split())
    if not text or len(text) > _MAX_CREDIT_CHARS:
        return []
    if site := _SITE_NAME.match(text):
        return [site.group(1).lower()]
    agencies = [_AGENCY_BY_ALIAS[" ".join(match.lower().split())] for match in _AGENCY.findall(text)]
    tokens = [token for token in _CREDIT_SEPARATORS.split(_AGENCY.sub(" ", text)) if token]
    if not agencies or len(tokens) + len(agencies) > _MAX_CREDIT_TOKENS:
        return []
    is_byline = next((word for word in _CREDIT_SEPARATORS.split(text) if word), "").lower() in _BYLINE_OPENERS
    has_initials = "/" in text  # "afp/fgn": the editor's initials follow the agency
    names = 0
    for token in tokens:
        if token.lower() in _CREDIT_WORDS or token.isdigit():
            continue
        if has_initials and token.isalpha() and len(token) <= _MAX_INITIALS_LENGTH:
            continue
        if is_byline and token[0].isupper() and names < _MAX_BYLINE_NAMES:
            names += 1
            continue
        return []
    return list(dict.fromkeys(agencies))


def is_credit_line(line: str) -> bool:
    """A short line that credits an agency, publisher or site rather than telling the news."""
    return bool(credit_agencies(line))


# --- Junk lines ---------------------------------------------------------------------------------

_JUNK_LABELS = frozenset(
    {
        # tracker and ad-slot leftovers
        "fbpx", "pixel", "tracking pixel", "adsbygoogle", "googletag", "gtag", "datalayer",
        # advertising labels
        "ad", "ads", "advertisement", "advertising", "sponsored", "sponsored content", "partner content",
        "anzeige", "werbung", "publicité", "pub", "contenu sponsorisé", "annonce", "pubblicità",
        "publicidad", "contenido patrocinado",
    }
)
_SCRIPT_LEFTOVER = re.compile(
    r"window\.\w|document\.\w|function\s*\(|=>|\.push\(|\bfbq\(|\bgtag\(|adsbygoogle|googletag", re.IGNORECASE
)
_LONE_URL = re.compile(r"^(?:https?://\S+|(?:www\.)?\S+\.[a-z]{2,}/\S*)$", re.IGNORECASE)
_SHARE_ACTIONS = frozenset(
    "share partager teilen condividi compartir tweet tweeter email e-mail mail print imprimer drucken "
    "stampa imprimir facebook twitter whatsapp linkedin telegram pinterest reddit messenger flipboard".split()
)
_SHARE_FILLERS = frozenset(
    "on sur auf su en via per por this the article cet cette page dieses artikel questo articolo este "
    "artículo link lien enlace copy copier kopieren copia copiar le la l x and et und e y or ou oder o".split()
)
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_COOKIE_NOTICE = re.compile(
    r"\b(?:we use cookies|uses cookies|accept (?:all )?cookies|cookie (?:settings|policy|preferences)|"
    r"nous utilisons des cookies|accepter (?:les |tous les )?cookies|paramètres des cookies|"
    r"wir verwenden cookies|cookies akzeptieren|cookie-einstellungen|"
    r"utilizziamo (?:i )?cookie|accetta (?:i )?cookie|utilizamos cookies|aceptar (?:las )?cookies)\b",
    re.IGNORECASE,
)
_RELATED_LINK = re.compile(
    r"^(?:à |a )?(?:lire aussi|lire également|voir aussi|read more|read also|also read|see also|related|"
    r"mehr zum thema|lesen sie auch|auch interessant|leggi anche|leer más|lea también|ver también)"
    r"\s*(?:$|[:>|»\-–—])",
    re.IGNORECASE,
)
_SUBSCRIBE_PROMPT = re.compile(
    r"^(?:subscribe|abonnez-vous|inscrivez-vous|jetzt abonnieren|abonnieren|iscriviti|suscríbete)\b", re.IGNORECASE
)
_MAX_JUNK_CHARS = 300  # page furniture is short; a long line is prose whatever words it uses


def _is_share_line(text: str) -> bool:
    words = _WORD.findall(text.lower())
    return bool(words) and any(word in _SHARE_ACTIONS for word in words) and all(
        word in _SHARE_ACTIONS or word in _SHARE_FILLERS for word in words
    )


def is_junk_line(line: str) -> bool:
    """A line of page furniture, not prose: tracker tokens, ad labels, script leftovers, a lone URL,
    share buttons, cookie notices, "read more" links, no letters at all."""
    text = " ".join(line.split())
    if not any(char.isalpha() for char in text):
        return True
    if len(text) > _MAX_JUNK_CHARS:
        return False
    return (
        text.lower().strip(" .:!") in _JUNK_LABELS
        or bool(_SCRIPT_LEFTOVER.search(text))
        or bool(_LONE_URL.match(text))
        or _is_share_line(text)
        or bool(_COOKIE_NOTICE.search(text))
        or bool(_RELATED_LINK.match(text))
        or bool(_SUBSCRIBE_PROMPT.match(text))
    )


# --- Paragraphs ---------------------------------------------------------------------------------

_SENTENCE_END = tuple(".!?…:;»\"”’)")
# A line this close to the block's longest line is hard-wrapped prose that continues on the next.
_WRAPPED_LINE_RATIO = 0.75


def _blocks(text: str) -> Iterator[list[str]]:
    """Runs of non-empty lines between blank lines."""
    block: list[str] = []
    for line in text.split("\n"):
        if line:
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def _join_wrapped_lines(lines: list[str]) -> list[str]:
    """Paragraphs of a block: a single newline is a paragraph break unless the text runs on
    (the next line starts in lower case, or this one is as wide as the block and ends mid-sentence)."""
    if not lines:
        return []
    width = max(len(line) for line in lines)
    paragraphs = [lines[0]]
    for previous, line in zip(lines, lines[1:]):
        runs_on = line[0].islower() or (
            len(previous) >= _WRAPPED_LINE_RATIO * width and not previous.endswith(_SENTENCE_END)
        )
        if runs_on:
            paragraphs[-1] += " " + line
        else:
            paragraphs.append(line)
    return paragraphs


def _laid_out(texts: Iterable[str]) -> tuple[str, list[Paragraph]]:
    paragraphs: list[Paragraph] = []
    start = 0
    for text in texts:
        paragraphs.append(Paragraph(text=text, start=start, end=start + len(text)))
        start += len(text) + len(PARAGRAPH_SEPARATOR)
    return PARAGRAPH_SEPARATOR.join(paragraph.text for paragraph in paragraphs), paragraphs


def _paragraphs_and_credits(text: str) -> tuple[list[str], list[str]]:
    """Prose paragraphs of tidy text, and its credit lines in order; junk lines dropped."""
    credits: list[str] = []
    paragraph_texts: list[str] = []
    for block in _blocks(text):
        prose: list[str] = []
        for line in block:
            if credit_agencies(line):
                credits.append(line)
            elif not is_junk_line(line):
                prose.append(line)
        paragraph_texts.extend(_join_wrapped_lines(prose))
    return paragraph_texts, credits


def clean_article(title: str, body: str) -> CleanedArticle:
    """Display text of an article: a whole page reduced to its main text, markup stripped, Unicode
    repaired, junk lines dropped, credit lines moved to `credits` (and their agencies to `agencies`),
    paragraphs with exact offsets. On a whole page, the headline repeated as the first paragraph
    is dropped."""
    clean_title = " ".join(_plain_text(title).split())
    repaired = _repaired(body)
    main_text = _main_text(repaired) if is_whole_page(repaired) else None
    if main_text is None:
        paragraph_texts, credits = _paragraphs_and_credits(_tidy(_stripped(repaired)))
    else:
        main_text = _tidy(main_text)
        paragraph_texts, main_credits = _paragraphs_and_credits(main_text)
        credits = _page_credits(repaired, main_text, main_credits)
        headline = _headline_key(clean_title)
        if len(paragraph_texts) > 1 and headline and _headline_key(paragraph_texts[0]) == headline:
            paragraph_texts = paragraph_texts[1:]  # the page's headline, repeated
    agencies: dict[str, None] = {}  # an ordered set
    for credit in credits:
        agencies.update(dict.fromkeys(credit_agencies(credit)))
    text, paragraphs = _laid_out(paragraph_texts)
    return CleanedArticle(
        title=clean_title,
        body=text,
        paragraphs=paragraphs,
        credits=credits,
        agencies=list(agencies),
    )
