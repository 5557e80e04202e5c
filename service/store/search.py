"""Full-text search over a user's own messages, and the sessions that hold matches.

A query is what a search box takes (PostgreSQL's ``websearch_to_tsquery``): words (all of
them), ``"quoted phrases"``, ``-excluded`` words and ``or``. It is parsed with the text-search
configuration the caller passes, which must be the one the database builds each message's
``chat_message_search.search_vector`` with (the setting SEARCH_CONFIG; see the migration that
creates the table). A query with no word to look for (only stopwords, only ``-words``) finds
nothing. Results come best first with keyset cursors over (rank, message id), so a page
never repeats or skips a message while the ranks hold.
"""

from __future__ import annotations

import datetime
import math
import struct
import uuid
from typing import Annotated

import msgspec

from generated import search
from generated.models import ChatMessageRole

from .cursors import decode_cursor, encode_cursor
from .errors import InvalidInput
from .sessions import SessionPage, get_session
from .tx import Db, exec_statement

__all__ = [
    "SNIPPET_MATCH_END",
    "SNIPPET_MATCH_START",
    "SearchHit",
    "SearchPage",
    "search_messages",
    "sessions_matching",
]

# In a hit's snippet each match starts with SNIPPET_MATCH_START and ends with
# SNIPPET_MATCH_END: control characters taken out of the text first, so they mark only matches.
SNIPPET_MATCH_START, SNIPPET_MATCH_END = "\x02", "\x03"


class SearchHit(msgspec.Struct, frozen=True, kw_only=True):
    message_id: uuid.UUID
    session_id: uuid.UUID
    session_title: str | None
    role: ChatMessageRole
    created_at: datetime.datetime
    rank: float
    snippet: str  # a passage around the matches, each between the SNIPPET_MATCH_ marks


class SearchPage(msgspec.Struct, frozen=True):
    hits: list[SearchHit]  # best first
    next_cursor: str | None  # None on the last page


class _HitPosition(msgspec.Struct, frozen=True, array_like=True):
    rank: float
    id: uuid.UUID


class _SessionPosition(msgspec.Struct, frozen=True, array_like=True):
    last_activity_at: Annotated[datetime.datetime, msgspec.Meta(tz=True)]
    id: uuid.UUID


async def search_messages(
    db: Db,
    user_id: uuid.UUID,
    *,
    config: str,
    query: str,
    limit: int,
    cursor: str | None = None,
    session_id: uuid.UUID | None = None,
) -> SearchPage:
    """A page of the user's messages matching ``query``, best first; pass next_cursor for
    more. With ``session_id``, only that session's (NotFound unless it is the user's)."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    after = None if cursor is None else _hit_position(cursor)
    if session_id is not None:
        await get_session(db, user_id, session_id)
    params = search.SearchMessagesParams(
        config=config,
        query=query,
        user_id=user_id,
        limit=limit + 1,  # one more row tells whether there is a next page
        session_id=session_id,
        after_rank=None if after is None else after.rank,
        after_id=None if after is None else after.id,
    )
    rows = await exec_statement(db, lambda conn: search.search_messages(conn, params))
    hits = [SearchHit(**msgspec.structs.asdict(row)) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(_HitPosition(hits[-1].rank, hits[-1].message_id))
    return SearchPage(hits, next_cursor)


async def sessions_matching(
    db: Db, user_id: uuid.UUID, *, config: str, query: str, limit: int, cursor: str | None = None
) -> SessionPage:
    """A page of the user's sessions holding a message that matches ``query``, most recently
    active first (the order and cursors of ``list_sessions``)."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    after = None if cursor is None else decode_cursor(cursor, _SessionPosition)
    rows = await exec_statement(
        db,
        lambda conn: search.list_sessions_matching(
            conn,
            user_id=user_id,
            config=config,
            query=query,
            limit=limit + 1,
            before_activity=None if after is None else after.last_activity_at,
            before_id=None if after is None else after.id,
        ),
    )
    page, next_cursor = rows[:limit], None
    if len(rows) > limit:
        next_cursor = encode_cursor(_SessionPosition(page[-1].last_activity_at, page[-1].id))
    return SessionPage(page, next_cursor)


def _hit_position(cursor: str) -> _HitPosition:
    """The position a search cursor encodes. Ranks are PostgreSQL ``real`` values: a number
    beyond a real's range stands for the infinity of its sign (a real cannot hold it), and
    every other number, NaN and negatives too, is a position PostgreSQL compares (any cursor
    of the shape pages through the caller's own results only)."""
    position = decode_cursor(cursor, _HitPosition)
    if math.isfinite(position.rank) and abs(position.rank) > _REAL_MAX:
        return _HitPosition(math.copysign(math.inf, position.rank), position.id)
    return position


_REAL_MAX = struct.unpack(">f", bytes.fromhex("7f7fffff"))[0]  # the largest finite real
