"""Just enough reading of a query's SQL to correct what sqlc reports about aggregates.

sqlc marks every function call NOT NULL, yet ``sum``, ``avg``, ``max``, ``min`` and the
other aggregates but ``count`` are NULL over no rows; and a ``:one`` query made only of
aggregates, with no ``GROUP BY``, always returns exactly one row. Neither is in the
request, so this module tokenizes the SQL (strings, quoted names and comments kept whole)
and looks at the top-level ``SELECT`` list. Anything it does not recognise is left as
sqlc reports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<comment>--[^\n]*)
    | (?P<string>[Ee]'(?:[^'\\]|\\.|'')*'|[BbXxNn]?'(?:[^']|'')*')
    | (?P<quoted>"(?:[^"]|"")*")
    | (?P<param>\$\d+)
    | (?P<dollar>\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$)
    | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[Ee][+-]?\d+)?)
    | (?P<word>[^\W\d][\w$]*)
    | (?P<cast>::)
    | (?P<punct>[()\[\],;.])
    | (?P<op>[-+*/<>=~!@\#%^&|`?:]+)
    """,
    re.VERBOSE | re.DOTALL,
)

# PostgreSQL's built-in aggregates that may return NULL: over no rows (or only NULL
# inputs) they do. Ordered-set and hypothetical-set aggregates are left out (rank() and
# friends are never NULL; with OVER they are window functions).
NULLABLE_AGGREGATES = frozenset(
    {
        "any_value", "array_agg", "avg", "bit_and", "bit_or", "bit_xor", "bool_and",
        "bool_or", "corr", "covar_pop", "covar_samp", "every", "json_agg",
        "json_agg_strict", "json_object_agg", "json_object_agg_strict",
        "json_object_agg_unique", "json_object_agg_unique_strict", "jsonb_agg",
        "jsonb_agg_strict", "jsonb_object_agg", "jsonb_object_agg_strict",
        "jsonb_object_agg_unique", "jsonb_object_agg_unique_strict", "max", "min",
        "mode", "percentile_cont", "percentile_disc", "range_agg", "range_intersect_agg",
        "regr_avgx", "regr_avgy", "regr_intercept", "regr_r2", "regr_slope", "regr_sxx",
        "regr_sxy", "regr_syy", "stddev", "stddev_pop", "stddev_samp", "string_agg",
        "sum", "var_pop", "var_samp", "variance", "xmlagg",
    }
)  # fmt: skip
# Aggregates that are never NULL: zero over no rows.
COUNTING_AGGREGATES = frozenset({"count", "regr_count"})
AGGREGATES = NULLABLE_AGGREGATES | COUNTING_AGGREGATES

_STATEMENTS = frozenset({"select", "insert", "update", "delete", "values", "table", "merge"})
# Top-level keywords that end a SELECT list.
_AFTER_TARGETS = frozenset(
    {
        "from", "into", "where", "group", "having", "window", "union", "intersect",
        "except", "order", "limit", "offset", "fetch", "for",
    }
)  # fmt: skip
# Top-level clauses after which an aggregate query may return no row, or several.
_ROW_CHANGING = frozenset(
    {"group", "having", "window", "union", "intersect", "except", "limit", "offset", "fetch"}
)
# Words that continue a type name after ``::`` (``double precision``, ``time with time zone``).
_TYPE_WORDS = frozenset({"precision", "varying", "with", "without", "time", "zone"})


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    depth: int
    """Nesting of parentheses and brackets around the token (0: top level)."""

    @property
    def keyword(self) -> str:
        """The lower-case word if the token is an unquoted word, else empty."""
        return self.text.lower() if self.kind == "word" else ""

    @property
    def name(self) -> str:
        """The name if the token is one: unquoted words fold to lower case, quoted ones not."""
        if self.kind == "quoted":
            return self.text[1:-1].replace('""', '"')
        return self.keyword


def tokenize(sql: str) -> list[Token] | None:
    """The significant tokens of ``sql`` with their depth; None if it cannot be read."""
    tokens: list[Token] = []
    depth = 0
    position = 0
    while position < len(sql):
        if sql.startswith("/*", position):
            position = _skip_block_comment(sql, position)
            if position < 0:
                return None
            continue
        match = _TOKEN.match(sql, position)
        if match is None:
            return None
        kind = match.lastgroup or ""
        text = match.group()
        position = match.end()
        if kind == "dollar":
            end = sql.find(text, position)
            if end < 0:
                return None
            text = sql[match.start() : end + len(text)]
            position, kind = end + len(match.group()), "string"
        if kind in ("space", "comment"):
            continue
        if kind == "punct" and text in (")", "]"):
            depth -= 1
        tokens.append(Token(kind, text, depth))
        if kind == "punct" and text in ("(", "["):
            depth += 1
    return tokens


def _skip_block_comment(sql: str, start: int) -> int:
    """Position after the (possibly nested) block comment at ``start``; -1 if unterminated."""
    level = 0
    position = start
    while position < len(sql):
        if sql.startswith("/*", position):
            level += 1
            position += 2
        elif sql.startswith("*/", position):
            level -= 1
            position += 2
            if level == 0:
                return position
        else:
            position += 1
    return -1


@dataclass(frozen=True, slots=True)
class Select:
    """The top-level SELECT of a statement: its list items and its clause keywords."""

    items: tuple[tuple[Token, ...], ...]
    clauses: frozenset[str]


def main_select(tokens: list[Token]) -> Select | None:
    """The statement's own SELECT (after any WITH), or None if it is no plain SELECT."""
    if not tokens:
        return None
    base = tokens[0].depth
    start = next(
        (i for i, t in enumerate(tokens) if t.depth == base and t.keyword in _STATEMENTS), None
    )
    if start is None or tokens[start].keyword != "select":
        return None
    position = start + 1
    if _word_at(tokens, position) == "all":
        position += 1
    elif _word_at(tokens, position) == "distinct":
        position += 1
        if _word_at(tokens, position) == "on":
            position = _after_group(tokens, position + 1)
    items: list[tuple[Token, ...]] = []
    current: list[Token] = []
    clauses: set[str] = set()
    for index in range(position, len(tokens)):
        token = tokens[index]
        at_top = token.depth == base
        if at_top and token.text == ";":
            break
        if at_top and (clauses or _ends_targets(tokens, index)):
            # From the first clause on, only the top-level keywords matter.
            if token.keyword and not _within_group(tokens, index):
                clauses.add(token.keyword)
            continue
        if clauses:
            continue
        if at_top and token.text == ",":
            items.append(tuple(current))
            current = []
            continue
        current.append(token)
    if current:
        items.append(tuple(current))
    return Select(tuple(items), frozenset(clauses))


def _word_at(tokens: list[Token], index: int) -> str:
    return tokens[index].keyword if index < len(tokens) else ""


def _after_group(tokens: list[Token], index: int) -> int:
    """Index after the parenthesised group opening at ``index`` (or ``index`` if none)."""
    if index >= len(tokens) or tokens[index].text != "(":
        return index
    depth = tokens[index].depth
    for end in range(index + 1, len(tokens)):
        if tokens[end].text == ")" and tokens[end].depth == depth:
            return end + 1
    return len(tokens)


def _within_group(tokens: list[Token], index: int) -> bool:
    return tokens[index].keyword == "group" and index > 0 and tokens[index - 1].keyword == "within"


def _ends_targets(tokens: list[Token], index: int) -> bool:
    return tokens[index].keyword in _AFTER_TARGETS and not _within_group(tokens, index)


def _call(item: tuple[Token, ...]) -> tuple[str, int] | None:
    """(lower-case function name, index after its arguments) if ``item`` starts with a call."""
    index = 2 if len(item) > 2 and item[0].name == "pg_catalog" and item[1].text == "." else 0
    if index + 1 >= len(item) or not item[index].name or item[index + 1].text != "(":
        return None
    return item[index].name, _after_group(list(item), index + 1)


def _after_modifiers(item: tuple[Token, ...], index: int) -> tuple[int, bool]:
    """Skip ``FILTER (...)``, ``WITHIN GROUP (...)`` and ``OVER ...``; (index, windowed)."""
    tokens = list(item)
    windowed = False
    while index < len(tokens):
        word = tokens[index].keyword
        if word == "filter":
            index = _after_group(tokens, index + 1)
        elif word == "within" and _word_at(tokens, index + 1) == "group":
            index = _after_group(tokens, index + 2)
        elif word == "over":
            windowed = True
            if index + 1 < len(tokens) and tokens[index + 1].text == "(":
                index = _after_group(tokens, index + 1)
            else:
                index += 2
        else:
            break
    return index, windowed


def _only_casts_and_alias(item: tuple[Token, ...], index: int) -> bool:
    """True if ``item[index:]`` is nothing but ``::type`` casts and an optional alias."""
    tokens = list(item)
    while index < len(tokens) and tokens[index].kind == "cast":
        index += 1
        if index >= len(tokens) or not tokens[index].name:
            return False
        index += 1
        if index + 1 < len(tokens) and tokens[index].text == "." and tokens[index + 1].name:
            index += 2
        while _word_at(tokens, index) in _TYPE_WORDS:
            index += 1
        index = _after_group(tokens, index)
        while [t.text for t in tokens[index : index + 2]] == ["[", "]"]:
            index += 2
    rest = tokens[index:]
    if rest and rest[0].keyword == "as":
        rest = rest[1:]
    return not rest or (len(rest) == 1 and bool(rest[0].name))


def aggregate(item: tuple[Token, ...]) -> tuple[str, bool] | None:
    """(aggregate, windowed) if the list item is one aggregate call, cast or aliased."""
    call = _call(item)
    if call is None or call[0] not in AGGREGATES:
        return None
    index, windowed = _after_modifiers(item, call[1])
    if not _only_casts_and_alias(item, index):
        return None
    return call[0], windowed


def _subquery(item: tuple[Token, ...]) -> list[Token] | None:
    """The tokens inside ``(SELECT ...)`` if the list item is a scalar subquery."""
    if len(item) < 3 or item[0].text != "(" or item[1].keyword not in ("select", "with"):
        return None
    end = _after_group(list(item), 0)
    if not _only_casts_and_alias(item, end):
        return None
    return list(item[1 : end - 1])


def one_row(select: Select) -> bool:
    """True if the SELECT returns exactly one row: only aggregates, no GROUP BY and the like."""
    if not select.items or select.clauses & _ROW_CHANGING:
        return False
    for item in select.items:
        found = aggregate(item)
        if found is None or found[1]:
            return False
    return True


def item_nullable(item: tuple[Token, ...]) -> bool | None:
    """Whether a SELECT list item can be NULL, when it is an aggregate or a scalar subquery.

    None when it is neither: then sqlc's answer stands.
    """
    found = aggregate(item)
    if found is not None:
        return found[0] not in COUNTING_AGGREGATES
    inner = _subquery(item)
    if inner is None:
        return None
    select = main_select(inner)
    # A scalar subquery is NULL when it finds no row; one that always finds one row has
    # the nullability of its one item.
    if select is None or len(select.items) != 1 or not one_row(select):
        return True
    return item_nullable(select.items[0]) is not False


@dataclass(frozen=True, slots=True)
class Analysis:
    one_row: bool
    """A ``:one`` query that can never return no row."""
    nullable: tuple[bool | None, ...] | None
    """Per result column: True (may be NULL), False (never), None (as sqlc says); None when
    the SELECT list could not be matched to the columns."""


def analyse(sql: str, columns: int) -> Analysis:
    """What the SQL text says about the row count and the NULLs of a query's result."""
    tokens = tokenize(sql)
    select = main_select(tokens) if tokens else None
    if select is None:
        return Analysis(one_row=False, nullable=None)
    nullable = None
    if len(select.items) == columns:
        nullable = tuple(item_nullable(item) for item in select.items)
    return Analysis(one_row=one_row(select), nullable=nullable)
