"""Exports: everything a user owns, or one session, as a stream of items read page by page.

A long export outlives any request budget, so each page's database work gets a budget of
its own (DB_REQUEST_BUDGET, ``store.deadline``): a frozen database stops the stream after
one budget, and a slow reader costs no connection (none is held between pages). Sessions go
in id order (creation order), which no concurrent chat turn changes, so a session active
meanwhile is neither missed nor repeated; messages by sequence number.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ParamSpec, TypeAlias, TypeVar

import msgspec

from .. import store
from ..settings import Settings

__all__ = ["ExportItem", "Exports", "SessionEnd"]

T = TypeVar("T")
P = ParamSpec("P")

SESSION_PAGE = 100
MESSAGE_PAGE = 200
DOCUMENT_PAGE = 100


class SessionEnd(msgspec.Struct, frozen=True):
    """The messages of the session started last are all out."""


class DocumentsStart(msgspec.Struct, frozen=True):
    """The sessions are all out; the documents follow."""


# A user export: ExportedUser, then per session ChatSession, ExportedMessage... SessionEnd,
# then DocumentsStart and Document... . A session export: ChatSession, ExportedMessage...
ExportItem: TypeAlias = (
    store.ExportedUser
    | store.ChatSession
    | store.ExportedMessage
    | SessionEnd
    | DocumentsStart
    | store.Document
)


class Exports:
    def __init__(self, db: store.Pool, settings: Settings) -> None:
        self._db = db
        self._budget = settings.db_request_budget

    async def user_export(self, user_id: uuid.UUID) -> AsyncIterator[ExportItem]:
        """Everything the user owns (NotFound, from the first item, when the user is gone)."""
        yield await self._page(store.export_user, self._db, user_id)
        after = uuid.UUID(int=0)
        while sessions := await self._page(
            store.export_sessions, self._db, user_id, after_id=after, limit=SESSION_PAGE
        ):
            for session in sessions:
                yield session
                async for message in self._messages(user_id, session.id):
                    yield message
                yield SessionEnd()
            after = sessions[-1].id
        yield DocumentsStart()
        cursor: str | None = None
        while True:
            page = await self._page(
                store.list_documents, self._db, user_id, limit=DOCUMENT_PAGE, cursor=cursor
            )
            for document in page.documents:
                yield document
            cursor = page.next_cursor
            if cursor is None:
                return

    async def session_export(
        self, user_id: uuid.UUID, session_id: uuid.UUID
    ) -> AsyncIterator[ExportItem]:
        """One of the user's sessions and its messages (NotFound, from the first item, for
        anyone else's)."""
        yield await self._page(store.get_session, self._db, user_id, session_id)
        async for message in self._messages(user_id, session_id):
            yield message

    async def _messages(
        self, user_id: uuid.UUID, session_id: uuid.UUID
    ) -> AsyncIterator[store.ExportedMessage]:
        after_seq = 0
        while messages := await self._page(
            store.export_messages,
            self._db,
            user_id,
            session_id,
            after_seq=after_seq,
            limit=MESSAGE_PAGE,
        ):
            for message in messages:
                yield message
            after_seq = messages[-1].message.seq

    async def _page(self, read: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """One page's reads, within a budget of their own. Never across a ``yield``: the
        deadline is the reading task's, and the consumer runs between pages."""
        with store.deadline(self._budget):
            return await read(*args, **kwargs)
