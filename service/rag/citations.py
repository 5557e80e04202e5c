"""Citation markers in a model's answer: "[1]", "[1, 3]", "[2-4]", renumbered to its sources."""

from __future__ import annotations

import re
from typing import Generic, TypeVar

__all__ = ["CitationMarkers", "cite_marked"]

T = TypeVar("T")

# A citation marker: passage numbers and ranges in brackets, "[1]", "[1, 3]", "[2-4]" ("[1][2]"
# is two markers), with the horizontal space before it, which goes if the marker does. A number
# has at most nine digits (int() refuses huge ones): a longer one in brackets is plain text.
_NUMBERS = r"\d{1,9}(?:\s*[-\u2013]\s*\d{1,9})?"
_MARKER = re.compile(rf"([^\S\n]*)\[(\s*{_NUMBERS}(?:\s*,\s*{_NUMBERS})*\s*)\]")


# What may still become a marker once more text arrives: "[" and what a marker holds inside,
# with the horizontal space before it (which goes if the marker turns out empty).
_UNFINISHED = re.compile(r"[^\S\n]*(?:\[[\d\s,\-\u2013]{0,40})?\Z")


def cite_marked(text: str, passages: list[T]) -> tuple[str, list[T]]:
    """The text with its citation markers renumbered, and the passages they name, in order.

    A marker is a bracketed list of passage numbers and ranges: "[1]", "[1, 3]", "[2-4]" (an
    en dash too); "[1][2]" is two markers. The passages named are numbered 1, 2, ... in order
    of first mention, and each marker is rewritten with the new numbers, ranges spelled out
    ("[2-3]" may become "[1, 2]"). Numbers naming no passage are dropped; a marker left empty
    goes, with the space before it. A text without markers cites nothing.
    """
    markers = CitationMarkers(passages)
    renumbered = markers.feed(text) + markers.finish()
    return renumbered, markers.cited()


class CitationMarkers(Generic[T]):
    """``cite_marked`` for text that arrives in pieces (a streamed answer): each piece fed
    gives back the text that is final by then, renumbered; ``finish`` gives the rest. What a
    marker split between pieces may still become is held back until it is whole, so the
    pieces given back join into exactly what ``cite_marked`` makes of the whole text."""

    def __init__(self, passages: list[T]) -> None:
        self._passages = passages
        self._numbers: dict[int, int] = {}  # position in passages -> new number
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        unfinished = _UNFINISHED.search(text)
        cut = len(text) if unfinished is None else unfinished.start()
        self._held = text[cut:]
        return _MARKER.sub(self._rewrite, text[:cut])

    def finish(self) -> str:
        text, self._held = self._held, ""
        return _MARKER.sub(self._rewrite, text)

    def cited(self) -> list[T]:
        """The passages the markers so far name, in their new order."""
        return [self._passages[index] for index in self._numbers]

    def _rewrite(self, marker: re.Match[str]) -> str:
        renumbered: list[int] = []
        for part in marker.group(2).replace("\u2013", "-").split(","):
            first, _, last = part.partition("-")
            low, high = int(first), int(last or first)
            for number in range(max(low, 1), min(high, len(self._passages)) + 1):
                new = self._numbers.setdefault(number - 1, len(self._numbers) + 1)
                if new not in renumbered:
                    renumbered.append(new)
        if not renumbered:
            return ""
        return f"{marker.group(1)}[{', '.join(map(str, renumbered))}]"
