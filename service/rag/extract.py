"""Extraction: an uploaded document's bytes (plain text, Markdown, HTML or PDF) to clean text.

The format comes from the content type, else the file name's extension, else the bytes
themselves; anything else is an UnsupportedDocument. Every format's text is then cleaned the
same way (``clean_text``): chunk offsets point into that text, and PostgreSQL accepts it.
An HTML page gives the text of its main content, without its navigation and other chrome
(see boilerplate); a PDF gives where each page starts in the text (see page_of).
"""

from __future__ import annotations

import codecs
import io
import re
from bisect import bisect_right
from collections.abc import Iterator
from pathlib import PurePath
from typing import Final, Literal

import msgspec
import pypdf
from selectolax.lexbor import LexborHTMLParser, LexborNode

from .boilerplate import main_content
from .chunking import first_heading

__all__ = [
    "DocumentFormat",
    "ExtractedText",
    "UnsupportedDocument",
    "clean_text",
    "detect_format",
    "extract_text",
    "page_of",
]

DocumentFormat = Literal["text", "markdown", "html", "pdf"]


class UnsupportedDocument(Exception):
    """The bytes cannot be read as text: an unsupported type, or an encrypted or broken PDF."""


class ExtractedText(msgspec.Struct, frozen=True):
    text: str  # cleaned: see clean_text
    title: str | None  # the HTML <title> (or <h1>) or PDF title, else the first Markdown heading
    format: DocumentFormat
    page_starts: tuple[int, ...] = ()  # a PDF's: where each page starts in text, page 1 first


_CONTENT_TYPES: Final[dict[str, DocumentFormat]] = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
}
# Content types that say nothing about the bytes: the file name or the bytes decide.
_GENERIC_CONTENT_TYPES: Final = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}
)
_EXTENSIONS: Final[dict[str, DocumentFormat]] = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BYTE_ORDER_MARKS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SNIFF_BYTES = 1024
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.IGNORECASE)
# Control bytes that do occur in text files (tab, newlines, form feed, backspace, escape).
_TEXT_CONTROL_BYTES = frozenset(b"\t\n\r\f\b\x1b")

_LINE_BREAKS = re.compile(r"\r\n?|[\v\f]")  # \v and \f separate lines: dropping them glues words
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f]")  # C0 but \t and \n
_LONE_SURROGATES = re.compile("[\ud800-\udfff]")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_EXTRA_BLANK_LINES = re.compile(r"\n{3,}")
_CLEAN_PIECE_CHARS = 65_536  # cleaned in a few milliseconds
# A line break, then a character cleaning leaves as it is: where clean_text may cut a text.
_PIECE_END = re.compile(r"\n(?=[^\s\x00-\x1f\ud800-\udfff])")


def extract_text(
    content: bytes, *, content_type: str | None, filename: str | None
) -> ExtractedText:
    """The clean text, title and format of a document; UnsupportedDocument when unreadable."""
    media_type, charset = _parse_content_type(content_type)
    document_format = _detect_format(content, media_type, filename)
    title: str | None = None
    page_starts: tuple[int, ...] = ()
    if document_format == "pdf":
        pages, title = _pdf_pages(content)
        text, page_starts = _joined_pages([clean_text(page) for page in pages])
    elif document_format == "html":
        html_text, title = _html_text(_decode(content, charset or _meta_charset(content)))
        text = clean_text(html_text)
    else:
        text = clean_text(_decode(content, charset))
    clean_title = " ".join(clean_text(title or "").split()) or first_heading(text)
    return ExtractedText(text, clean_title, document_format, page_starts)


def detect_format(content: bytes, content_type: str | None, filename: str | None) -> DocumentFormat:
    """The format extract_text reads the document as; UnsupportedDocument when none."""
    media_type, _ = _parse_content_type(content_type)
    return _detect_format(content, media_type, filename)


def page_of(page_starts: tuple[int, ...], offset: int) -> int | None:
    """The page (from 1) holding the text at ``offset``; None for a document without pages."""
    return bisect_right(page_starts, offset) or None


def clean_text(text: str) -> str:
    """LF line ends, no control characters but tabs, no lone surrogates, no trailing spaces,
    at most one blank line in a row, no blank lines at either end."""
    # A piece at a time: one regular expression call holds the GIL until it is done (over a
    # 10 MB text, 100 to 300 ms each), and the event loop of the process waits that long.
    pieces = [_clean_piece(text[start:end]) for start, end in _pieces(text)]
    return "".join(pieces).strip("\n")


def _clean_piece(text: str) -> str:
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROL_CHARACTERS.sub("", text)
    text = _LONE_SURROGATES.sub("\ufffd", text)
    text = _TRAILING_SPACE.sub("", text)
    return _EXTRA_BLANK_LINES.sub("\n\n", text)


def _pieces(text: str) -> Iterator[tuple[int, int]]:
    """[start, end) spans of about _CLEAN_PIECE_CHARS that _clean_piece cleans apart as it
    would clean them together: each but the last ends after a line break and before a
    character that cleaning keeps (not a blank, a control character or a lone surrogate),
    so no expression's match can reach from one piece into the next."""
    start = 0
    while start < len(text):
        cut = _PIECE_END.search(text, start + _CLEAN_PIECE_CHARS)
        end = len(text) if cut is None else cut.end()
        yield start, end
        start = end


def _parse_content_type(content_type: str | None) -> tuple[str, str | None]:
    """The media type, lowercased, and the charset parameter if any."""
    if content_type is None:
        return "", None
    media_type, *parameters = content_type.split(";")
    charset = None
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return media_type.strip().lower(), charset


def _detect_format(content: bytes, media_type: str, filename: str | None) -> DocumentFormat:
    if media_type in _CONTENT_TYPES:
        return _CONTENT_TYPES[media_type]
    declared_text = media_type.startswith("text/")  # text/csv and the like: read as text
    if not declared_text and media_type not in _GENERIC_CONTENT_TYPES:
        raise UnsupportedDocument(f"unsupported content type {media_type}")
    extension = PurePath(filename).suffix.lower() if filename else ""
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    sniffed = _sniff_format(content)
    if sniffed is not None:
        return sniffed
    if declared_text:
        return "text"
    raise UnsupportedDocument(
        f"unsupported binary content{f' ({filename})' if filename else ''}: "
        "expected text, Markdown, HTML or PDF"
    )


def _sniff_format(content: bytes) -> DocumentFormat | None:
    """The format the bytes themselves show; None when they look binary."""
    head = content[:_SNIFF_BYTES].lstrip()
    if head.startswith(b"%PDF-"):
        return "pdf"
    lowered = head.lower()
    if b"<!doctype html" in lowered or b"<html" in lowered:
        return "html"
    return None if _looks_binary(content) else "text"


def _looks_binary(content: bytes) -> bool:
    if content.startswith(tuple(mark for mark, _ in _BYTE_ORDER_MARKS)):
        return False  # UTF-16 text is full of NUL bytes
    sample = content[:8192]
    if b"\0" in sample:
        return True  # as git and grep decide
    controls = sum(1 for byte in sample if byte < 0x20 and byte not in _TEXT_CONTROL_BYTES)
    return controls * 10 > len(sample)


def _decode(content: bytes, charset: str | None) -> str:
    """Text from bytes, never failing: invalid bytes become U+FFFD."""
    for mark, encoding in _BYTE_ORDER_MARKS:  # a byte order mark is unambiguous: it wins
        if content.startswith(mark):
            return content[len(mark) :].decode(encoding, errors="replace")
    if charset is not None:
        try:
            return content.decode(charset, errors="replace")
        except (LookupError, UnicodeError):  # an unknown charset, or a codec that is not text
            pass
    return content.decode("utf-8", errors="replace")


def _meta_charset(content: bytes) -> str | None:
    """The charset an HTML document declares in a <meta> near its start."""
    match = _META_CHARSET.search(content[:_SNIFF_BYTES])
    if match is None:
        return None
    charset = match.group(1).decode("ascii").lower()
    # Found by reading ASCII, so the bytes cannot be UTF-16/32 whatever the tag says.
    return "utf-8" if charset.startswith(("utf-16", "utf-32")) else charset


def _html_text(html: str) -> tuple[str, str | None]:
    """The text of the page's main content, and its title (see _page_title)."""
    page = LexborHTMLParser(html)
    title_element = page.head.css_first("title") if page.head is not None else None
    title = " ".join(title_element.text().split()) if title_element is not None else ""
    text = _HtmlText()
    if (content := main_content(page)) is not None:
        text.render(content)
    return text.text(), _page_title(title, text.first_h1)


def _page_title(title: str, h1: str | None) -> str | None:
    """The <title>, or the first <h1> when the <title> is that <h1> and the site's name."""
    if h1 and h1 != title:
        if title.startswith(h1) and title[len(h1) :].lstrip()[:1] in _SITE_SEPARATORS:
            return h1
        if title.endswith(h1) and title[: -len(h1)].rstrip()[-1:] in _SITE_SEPARATORS:
            return h1
    return title or None


# Content that is not text, and form controls: their labels ("Copy", "Theme Auto Light Dark")
# are the page's interface, not its text.
_SKIPPED_TAGS: Final = frozenset(
    {"-comment", "script", "style", "noscript", "template", "svg", "button", "select"}
)
_HEADING_LEVELS: Final = {f"h{level}": level for level in range(1, 7)}
# fmt: off
_BLOCK_TAGS: Final = frozenset({
    "address", "article", "aside", "blockquote", "caption", "dd", "details", "dialog", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "li",
    "main", "nav", "ol", "p", "section", "summary", "table", "tbody", "tfoot", "thead", "tr",
    "ul",
})
# fmt: on
_CELL_TAGS: Final = frozenset({"td", "th"})
# What a data cell never holds: a cell holding any of it lays out a page, and is read as blocks.
_LAYOUT_CELL_CONTENT: Final = "h1, h2, h3, h4, h5, h6, p ~ p, ul, ol, dl, pre, table"
_HTML_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
# What stands between the page's and the site's name in a <title> (bars, dashes, dots...).
_SITE_SEPARATORS: Final = frozenset("|-\u2013\u2014\u00b7\u2022:\u00bb")
# Deeper elements are read as plain text: recursion stays far from Python's limit.
_MAX_DEPTH = 200


class _HtmlText:
    """The visible text of an element: blocks as paragraphs, headings as '#' lines, <pre>
    verbatim."""

    def __init__(self) -> None:
        self.first_h1: str | None = None
        self._parts: list[str] = []  # finished lines and line breaks
        self._run: list[str] = []  # the text since the last break, whitespace not yet collapsed

    def text(self) -> str:
        self._end_run()
        return "".join(self._parts)

    def render(self, element: LexborNode, depth: int = 0) -> None:
        for node in element.iter(include_text=True):
            tag = node.tag
            if tag == "-text":
                self._run.append(node.text_content or "")
            elif tag in _SKIPPED_TAGS:
                pass
            elif tag in _HEADING_LEVELS:
                self._heading(_HEADING_LEVELS[tag], node, depth)
            elif tag == "pre":
                self._break("\n\n")
                self._parts.append(node.text(deep=True))
                self._break("\n\n")
            elif tag == "br":
                self._break("\n")
            elif depth >= _MAX_DEPTH:
                self._run.append(node.text(deep=True))
            elif tag in _BLOCK_TAGS:
                self._break("\n\n")
                self.render(node, depth + 1)
                self._break("\n\n")
            elif tag in _CELL_TAGS and node.css_first(_LAYOUT_CELL_CONTENT) is None:
                self._run.append(f" {_inline_text(node, depth)} ")  # a row stays one line
            elif tag in _CELL_TAGS:
                self._break("\n\n")
                self.render(node, depth + 1)
                self._break("\n\n")
            else:
                self.render(node, depth + 1)

    def _heading(self, level: int, element: LexborNode, depth: int) -> None:
        """One '#' line, so that the chunker sees the heading; without a trailing '¶' link."""
        if heading := _inline_text(element, depth).removesuffix("\u00b6").rstrip():
            self._break("\n\n")
            self._parts.append(f"{'#' * level} {heading}")
            self._break("\n\n")
            if level == 1 and self.first_h1 is None:
                self.first_h1 = heading

    def _break(self, newlines: str) -> None:
        self._end_run()
        if self._parts:
            self._parts.append(newlines)

    def _end_run(self) -> None:
        # One regular expression call per paragraph, not per text node: half the time of a page.
        run = _HTML_WHITESPACE.sub(" ", "".join(self._run)).strip(" ")
        self._run.clear()
        if run:
            self._parts.append(run)


def _inline_text(element: LexborNode, depth: int) -> str:
    """The element's text on one line."""
    text = _HtmlText()
    text.render(element, depth + 1)
    return " ".join(text.text().split())


def _pdf_pages(content: bytes) -> tuple[list[str], str | None]:
    """Every page's text, and the title from the metadata."""
    reader = _open_pdf(content)
    try:
        pages = [page.extract_text() for page in reader.pages]
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception as error:  # a broken file fails in pypdf with many exception types
        raise UnsupportedDocument(_UNREADABLE_PDF) from error
    return pages, title if isinstance(title, str) else None


def _joined_pages(pages: list[str]) -> tuple[str, tuple[int, ...]]:
    """The clean pages that hold text, a blank line between them, and where each page starts
    (a blank page: where the page before it ends)."""
    parts: list[str] = []
    starts: list[int] = []
    length = 0
    for page in pages:
        if page and parts:
            parts.append("\n\n")
            length += 2
        starts.append(length)
        if page:
            parts.append(page)
            length += len(page)
    return "".join(parts), tuple(starts)


def _open_pdf(content: bytes) -> pypdf.PdfReader:
    try:
        reader = pypdf.PdfReader(io.BytesIO(content))
        # Opening tried the empty password, which PDFs that only restrict printing or
        # copying use: those are read like any other.
        locked = reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED
    except Exception as error:  # a broken file fails in pypdf with many exception types
        raise UnsupportedDocument(_UNREADABLE_PDF) from error
    if locked:
        raise UnsupportedDocument("encrypted PDF: it cannot be read without its password")
    return reader


# pypdf's own words (kept as the exception's cause) describe its parser, not the file.
_UNREADABLE_PDF = "unreadable PDF: the file is damaged, or is not a PDF"
