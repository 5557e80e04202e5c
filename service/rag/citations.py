"""Citation markers in a model's answer: "[1]", "[1, 3]", "[2-4]", renumbered to its sources."""

from __future__ import annotations

import re
from typing import TypeVar

__all__ = ["cite_marked"]

T = TypeVar("T")

# A citation marker: passage numbers and ranges in brackets, "[1]", "[1, 3]", "[2-4]" ("[1][2]"
# is two markers), with the horizontal space before it, which goes if the marker does. A number
# has at most nine digits (int() refuses huge ones): a longer one in brackets is plain text.
_NUMBERS = r"\d{1,9}(?:\s*[-\u2013]\s*\d{1,9})?"
_MARKER = re.compile(rf"([^\S\n]*)\[(\s*{_NUMBERS}(?:\s*,\s*{_NUMBERS})*\s*)\]")


def cite_marked(text: str, passages: list[T]) -> tuple[str, list[T]]:
    """The text with its citation markers renumbered, and the passages they name, in order.

    A marker is a bracketed list of passage numbers and ranges: "[1]", "[1, 3]", "[2-4]" (an
    en dash too); "[1][2]" is two markers. The passages named are numbered 1, 2, ... in order
    of first mention, and each marker is rewritten with the new numbers, ranges spelled out
    ("[2-3]" may become "[1, 2]"). Numbers naming no passage are dropped; a marker left empty
    goes, with the space before it. A text without markers cites nothing.
    """
    numbers: dict[int, int] = {}  # position in passages -> new number

    def rewrite(marker: re.Match[str]) -> str:
        renumbered: list[int] = []
        for part in marker.group(2).replace("\u2013", "-").split(","):
            first, _, last = part.partition("-")
            low, high = int(first), int(last or first)
            for number in range(max(low, 1), min(high, len(passages)) + 1):
                new = numbers.setdefault(number - 1, len(numbers) + 1)
                if new not in renumbered:
                    renumbered.append(new)
        if not renumbered:
            return ""
        return f"{marker.group(1)}[{', '.join(map(str, renumbered))}]"

    return _MARKER.sub(rewrite, text), [passages[index] for index in numbers]
