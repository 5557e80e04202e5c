"""Identifier conversions: snake_case, PascalCase, singular table names, safe names."""

from __future__ import annotations

import keyword
import re

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_IDENTIFIER = re.compile(r"[^0-9A-Za-z_]+")

# Words whose plural is the same or irregular, in the spirit of sqlc's inflection.
_UNCOUNTABLE = frozenset(
    {"data", "equipment", "information", "metadata", "news", "series", "species", "status"}
)
_IRREGULAR = {
    "people": "person",
    "men": "man",
    "women": "woman",
    "children": "child",
    "statuses": "status",
    "aliases": "alias",
}


def snake_case(name: str) -> str:
    """``GetAuthorByID`` -> ``get_author_by_id``; ``user-name`` -> ``user_name``."""
    spaced = _WORD_BOUNDARY.sub("_", name)
    cleaned = _NOT_IDENTIFIER.sub("_", spaced).strip("_").lower()
    return re.sub(r"_+", "_", cleaned)


def pascal_case(name: str) -> str:
    """``chat_messages`` -> ``ChatMessages``."""
    return "".join(part[:1].upper() + part[1:] for part in snake_case(name).split("_") if part)


def singular(word: str) -> str:
    """Singular form of the last word of a snake_case table name."""
    head, sep, last = word.rpartition("_")
    lower = last.lower()
    if lower in _UNCOUNTABLE:
        single = last
    elif lower in _IRREGULAR:
        single = _IRREGULAR[lower]
    elif lower.endswith("ies") and len(lower) > 3:
        single = last[:-3] + "y"
    elif lower.endswith(("sses", "shes", "ches", "xes", "zzes")):
        single = last[:-2]
    elif lower.endswith("ss") or lower.endswith("us") or lower.endswith("is"):
        single = last
    elif lower.endswith("s") and len(lower) > 1:
        single = last[:-1]
    else:
        single = last
    return f"{head}{sep}{single}"


def safe_identifier(name: str, reserved: frozenset[str] = frozenset()) -> str:
    """A valid Python identifier; keywords and ``reserved`` names get a trailing underscore.

    Soft keywords (``match``, ``case``, ``type``) are valid names and stay as they are.
    """
    ident = snake_case(name) or "column"
    if ident[0].isdigit():
        ident = f"_{ident}"
    if keyword.iskeyword(ident) or ident in reserved:
        ident = f"{ident}_"
    return ident


def enum_member(value: str) -> str:
    """``in-progress`` -> ``IN_PROGRESS``; an empty or numeric value stays a valid name."""
    ident = _NOT_IDENTIFIER.sub("_", value).strip("_").upper()
    if not ident:
        ident = "EMPTY"
    if ident[0].isdigit():
        ident = f"V_{ident}"
    return ident


def deduplicate(names: list[str]) -> list[str]:
    """Suffix repeated names with ``_2``, ``_3``... in order of appearance."""
    seen: dict[str, int] = {}
    result: list[str] = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        candidate = name if count == 1 else f"{name}_{count}"
        while candidate in seen and candidate != name:
            count += 1
            candidate = f"{name}_{count}"
        seen.setdefault(candidate, 1)
        result.append(candidate)
    return result
