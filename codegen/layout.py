"""Line layout that matches ``ruff format``: one line when it fits, else one item per line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Union

LINE_LENGTH = 100
INDENT = "    "


Item = Union[str, "Call"]


class Call(NamedTuple):
    """A nested call argument: ``head(items)``, laid out like its parent."""

    head: str
    items: list[Item]


def flat(item: Item) -> str:
    if isinstance(item, str):
        return item
    return f"{item.head}{', '.join(flat(i) for i in item.items)})"


def bracketed(
    head: str, items: Sequence[Item], tail: str, indent: int, close: str = ")"
) -> list[str]:
    """``head(items)tail`` at ``indent`` levels, exploded with a magic trailing comma if too long.

    ``head`` ends with the opening bracket; ``close`` is the matching closing bracket.
    """
    pad = INDENT * indent
    one_line = f"{pad}{head}{', '.join(flat(i) for i in items)}{close}{tail}"
    if len(one_line) <= LINE_LENGTH or not items:
        return [one_line]
    inner = INDENT * (indent + 1)
    lines = [f"{pad}{head}"]
    for item in items:
        if isinstance(item, str):
            lines.append(f"{inner}{item},")
        else:
            lines.extend(bracketed(item.head, item.items, ",", indent + 1))
    lines.append(f"{pad}{close}{tail}")
    return lines


def comprehension(head: str, element: list[str], clause: str, indent: int) -> list[str]:
    """``head[element clause]`` as ruff lays out a list comprehension.

    ``element`` is the element expression already laid out at ``indent + 1``.
    """
    pad = INDENT * indent
    inner = INDENT * (indent + 1)
    if len(element) == 1:
        expression = element[0].strip()
        one_line = f"{pad}{head}[{expression} {clause}]"
        if len(one_line) <= LINE_LENGTH:
            return [one_line]
        hugged = f"{inner}{expression} {clause}"
        if len(hugged) <= LINE_LENGTH:
            return [f"{pad}{head}[", hugged, f"{pad}]"]
    return [f"{pad}{head}[", *element, f"{inner}{clause}", f"{pad}]"]


def docstring(text: str, indent: int) -> list[str]:
    """A docstring as ruff formats it (escaped, trailing whitespace removed)."""
    pad = INDENT * indent
    escaped = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = [line.rstrip() for line in escaped.strip().splitlines()]
    if lines and lines[-1].endswith('"'):
        lines[-1] += " "
    if len(lines) == 1:
        return [f'{pad}"""{lines[0]}"""']
    body = [f"{pad}{line}" if line else "" for line in lines[1:]]
    return [f'{pad}"""{lines[0]}', *body, f'{pad}"""']


def string_block(text: str) -> str:
    """A triple-quoted literal holding ``text`` exactly (SQL keeps its own line breaks).

    The opening quotes end with a backslash-newline, so the first line of the value starts
    on its own source line and the assignment line stays short whatever the query name.
    """
    escaped = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if not escaped.endswith("\n"):
        escaped += "\n"
    return f'"""\\\n{escaped}"""'
