"""Chunking: clean text to overlapping chunks that follow its headings, paragraphs and sentences.

Offsets are into the text given, always: ``chunk.text == text[chunk.char_start:chunk.char_end]``.
A Markdown heading (a line of 1-6 '#' then a space, outside fenced code) starts a section.
Sections are chunked apart, except short ones: a section is packed together with the next one
while their text is under ``SHORT_CHARS`` (a lone heading, or a heading and a line, never makes
a chunk of its own), and short sections at the end join the section before them. Within that,
whole paragraphs are packed up to the target; an oversized paragraph is cut at sentence ends,
an oversized sentence between words, and only a word longer than the target is cut inside
itself. No chunk is longer than the target. Consecutive chunks overlap by up to
``overlap_chars``, the overlap starting at a sentence if one fits, else at a word, and never
reaching back into the first heading of the sections packed together. A chunk's heading is the
first heading it holds, else the nearest heading above it. A whole text under ``SHORT_CHARS``
is one chunk.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import msgspec

__all__ = ["MIN_TARGET_CHARS", "SHORT_CHARS", "TextChunk", "chunk_text", "first_heading"]

MIN_TARGET_CHARS = 100
SHORT_CHARS = 200  # a chunk shorter than this says too little to be retrieved on its own

Span = tuple[int, int]  # [start, end) offsets into the text

_HEADING = re.compile(r"#{1,6} (.*)")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+$")  # "## Setup ##" is "Setup"; "# C#" stays "C#"
_FENCE = re.compile(r" {0,3}(?:```|~~~)")
_BLANK_LINES = re.compile(r"\n(?:[^\S\n]*\n)+")
_WORD = re.compile(r"\S+")
_SENTENCE_ENDS = ".!?…"
# May follow a sentence's final punctuation, (like this.) or "this." or “this.”
_CLOSERS = "\"')]}\u201d\u2019\u00bb"


class TextChunk(msgspec.Struct, frozen=True):
    index: int  # position among the document's chunks, from 0
    text: str
    char_start: int
    char_end: int
    heading: str | None  # the first heading in the chunk, else the nearest above; without '#'s


class _Section(msgspec.Struct, frozen=True):
    heading: str | None  # None for the text before the first heading (or an empty heading)
    start: int  # the heading line's start
    body_start: int  # the heading line's end
    end: int


def chunk_text(text: str, *, target_chars: int = 1200, overlap_chars: int = 200) -> list[TextChunk]:
    """The chunks of ``text``, in order; [] when it holds nothing but whitespace."""
    if target_chars < MIN_TARGET_CHARS:
        raise ValueError(f"target_chars must be at least {MIN_TARGET_CHARS}, not {target_chars}")
    if not 0 <= overlap_chars < target_chars // 2:
        raise ValueError(
            f"overlap_chars must be at least 0 and below target_chars // 2 "
            f"({target_chars // 2}), not {overlap_chars}"
        )
    chunks: list[TextChunk] = []
    for group in _section_groups(text):
        for start, end in _group_spans(text, group, target_chars, overlap_chars):
            heading = _heading(group, start, end)
            chunks.append(TextChunk(len(chunks), text[start:end], start, end, heading))
    return chunks


def first_heading(text: str) -> str | None:
    """The text of the first non-empty Markdown heading, the fallback title of a document."""
    return next((heading for _, _, heading in _heading_lines(text) if heading), None)


def _heading_lines(text: str) -> Iterator[tuple[int, int, str | None]]:
    """(line start, line end, heading text) of each heading line, skipping fenced code."""
    in_fence = False  # "# install" in a shell snippet is a comment, not a heading
    line_start = 0
    for line in text.split("\n"):
        line_end = line_start + len(line)
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _HEADING.match(line)):
            heading = _CLOSING_HASHES.sub("", match.group(1).strip()).strip()
            yield line_start, line_end, heading or None
        line_start = line_end + 1


def _sections(text: str) -> Iterator[_Section]:
    heading, start, body_start = None, 0, 0  # the text before the first heading
    for line_start, line_end, line_heading in _heading_lines(text):
        yield _Section(heading, start, body_start, line_start)
        heading, start, body_start = line_heading, line_start, line_end
    yield _Section(heading, start, body_start, len(text))


def _section_groups(text: str) -> list[list[_Section]]:
    """The sections in runs packed together: each run but the last reaches SHORT_CHARS."""
    groups: list[list[_Section]] = []
    group: list[_Section] = []
    for section in _sections(text):
        group.append(section)
        if _length(text, group[0].start, section.end) >= SHORT_CHARS:
            groups.append(group)
            group = []
    if group and groups:
        groups[-1].extend(group)  # short sections at the end: with the ones before
    elif group:
        groups.append(group)
    return groups


def _length(text: str, start: int, end: int) -> int:
    trimmed = _trimmed(text, start, end)
    return 0 if trimmed is None else trimmed[1] - trimmed[0]


def _heading(group: list[_Section], start: int, end: int) -> str | None:
    """The first heading whose line starts in the span, else the heading of the section the
    span starts in: the nearest above it."""
    held = (section.heading for section in group if start <= section.start < end)
    enclosing = next(section.heading for section in reversed(group) if section.start <= start)
    return next((heading for heading in held if heading), enclosing)


def _group_spans(text: str, group: list[_Section], target: int, overlap: int) -> Iterator[Span]:
    """Greedily pack the sections' pieces into spans of at most ``target`` characters."""
    pieces = [
        piece
        for section in group
        for start, end in ((section.start, section.body_start), (section.body_start, section.end))
        for paragraph in _paragraphs(text, start, end)
        for piece in _fitting_pieces(text, paragraph, target)
    ]
    floor = group[0].body_start
    previous: Span | None = None
    index = 0
    while index < len(pieces):
        start, end = pieces[index]
        if previous is not None:
            overlap_start = _overlap_start(text, previous, end, floor, target, overlap)
            start = start if overlap_start is None else overlap_start
        index += 1
        while index < len(pieces) and pieces[index][1] - start <= target:
            end = pieces[index][1]
            index += 1
        yield start, end
        previous = (start, end)


def _paragraphs(text: str, start: int, end: int) -> Iterator[Span]:
    """The blank-line separated paragraphs of text[start:end], without surrounding whitespace."""
    position = start
    for gap in _BLANK_LINES.finditer(text, start, end):
        if (paragraph := _trimmed(text, position, gap.start())) is not None:
            yield paragraph
        position = gap.end()
    if (paragraph := _trimmed(text, position, end)) is not None:
        yield paragraph


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _fitting_pieces(text: str, paragraph: Span, target: int) -> list[Span]:
    """The paragraph, or its sentences, or for an oversized sentence its words: each <= target."""
    start, end = paragraph
    if end - start <= target:
        return [paragraph]
    pieces: list[Span] = []
    for sentence_start, sentence_end in _sentences(text, start, end):
        if sentence_end - sentence_start <= target:
            pieces.append((sentence_start, sentence_end))
            continue
        for word in _WORD.finditer(text, sentence_start, sentence_end):
            word_start, word_end = word.span()
            while word_end - word_start > target:  # the only cut inside a word: it cannot fit
                pieces.append((word_start, word_start + target))
                word_start += target
            pieces.append((word_start, word_end))
    return pieces


def _sentences(text: str, start: int, end: int) -> Iterator[Span]:
    sentence_start = previous_end = start
    for word in _WORD.finditer(text, start, end):
        if word.start() > start and _starts_sentence(text, word.start()):
            yield sentence_start, previous_end
            sentence_start = word.start()
        previous_end = word.end()
    yield sentence_start, previous_end


def _starts_sentence(text: str, position: int) -> bool:
    """Whether the word at ``position`` starts a line or follows a sentence's end."""
    index = position
    while index > 0 and text[index - 1].isspace():
        if text[index - 1] == "\n":
            return True
        index -= 1
    while index > 0 and text[index - 1] in _CLOSERS:
        index -= 1
    return index > 0 and text[index - 1] in _SENTENCE_ENDS


def _overlap_start(
    text: str, previous: Span, next_end: int, floor: int, target: int, overlap: int
) -> int | None:
    """Where the chunk after ``previous`` starts when it repeats the end of it, if anywhere.

    The earliest sentence start that keeps the overlap within ``overlap`` characters and the
    new chunk (through ``next_end``) within ``target``; else the earliest such word start.
    """
    previous_start, previous_end = previous
    lowest = max(previous_end - overlap, next_end - target, floor, previous_start + 1)
    first_word: int | None = None
    for word in _WORD.finditer(text, lowest, previous_end):
        position = word.start()
        if not text[position - 1].isspace():  # ``lowest`` fell inside this word
            continue
        if _starts_sentence(text, position):
            return position
        if first_word is None:
            first_word = position
    return first_word
