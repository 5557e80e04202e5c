"""The benchmark's SQLAlchemy peer: the three level-1 operations written as a seed project would.

A typical FastAPI + SQLAlchemy 2.0 async template: an ``AsyncEngine`` on the asyncpg
driver, ``async_sessionmaker(expire_on_commit=False)``, one ``AsyncSession`` per
operation, ORM objects loaded with ``session.get`` / ``select``, changed as attributes,
then ``commit`` and ``refresh``. The sequence number is taken from the session row under
``SELECT ... FOR UPDATE``; idempotency is a lookup before the insert (and after a lost
race on the unique key).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from service.store import Citation
from tests.bench.orm_models import ChatMessage, ChatSession, MessageCitation

__all__ = ["OrmLayer", "orm_url"]

ACCESS_TOUCH_INTERVAL = datetime.timedelta(seconds=60)


def orm_url(url: str) -> str:
    """Our ``postgres://user@/db?host=/socket/dir&port=N[&sslmode=...]`` URL for SQLAlchemy.

    The asyncpg dialect passes query parameters on to ``asyncpg.connect`` as keywords; it
    understands ``host`` and ``port`` there, but asyncpg calls libpq's ``sslmode`` ``ssl``.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://...")
    query = [
        ("ssl" if key == "sslmode" else key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), ""))


class OrmLayer:
    """``ChatLayer`` on the SQLAlchemy ORM; returns ``ChatMessage`` ORM objects."""

    name = "SQLAlchemy ORM"

    def __init__(self, url: str, pool_size: int) -> None:
        self.engine = create_async_engine(orm_url(url), pool_size=pool_size, max_overflow=0)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    async def close(self) -> None:
        await self.engine.dispose()

    async def append(
        self, user_id: uuid.UUID, session_id: uuid.UUID, content: str, client_message_id: str
    ) -> ChatMessage:
        async with self.sessionmaker() as session:
            existing = await _by_client_id(session, session_id, client_message_id)
            if existing is not None:
                return _owned(existing, user_id)
            chat = await _lock_own_session(session, user_id, session_id)
            message = ChatMessage(
                session_id=session_id,
                user_id=user_id,
                seq=_next_seq(chat),
                role="user",
                content=content,
                client_message_id=client_message_id,
            )
            session.add(message)
            try:
                await session.commit()
            except IntegrityError:
                # A concurrent retry with the same client_message_id committed first (we
                # waited for its lock, then collided on the unique key): return its message.
                await session.rollback()
                existing = await _by_client_id(session, session_id, client_message_id)
                if existing is None:
                    raise
                return _owned(existing, user_id)
            await session.refresh(message)
            return message

    async def last10(self, user_id: uuid.UUID, session_id: uuid.UUID) -> list[ChatMessage]:
        async with self.sessionmaker() as session:
            chat = await session.get(ChatSession, session_id)
            if chat is None or chat.user_id != user_id:
                raise LookupError("session not found")
            result = await session.scalars(
                select(ChatMessage)
                .where(ChatMessage.session_id == session_id)
                .order_by(ChatMessage.seq.desc())
                .limit(10)
            )
            messages = list(result.all())
            messages.reverse()
            # Throttled so that reading a session does not turn every read into a write.
            if chat.last_accessed_at < datetime.datetime.now(datetime.UTC) - ACCESS_TOUCH_INTERVAL:
                chat.last_accessed_at = func.now()
                await session.commit()
            return messages

    async def turn(
        self,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        *,
        question: str,
        client_message_id: str,
        answer: str,
        confidence: float,
        citations: Sequence[Citation],
    ) -> ChatMessage:
        await self.append(user_id, session_id, question, client_message_id)
        await self.last10(user_id, session_id)  # the context the answer would be built from
        async with self.sessionmaker() as session:
            chat = await _lock_own_session(session, user_id, session_id)
            reply = ChatMessage(
                session_id=session_id,
                user_id=user_id,
                seq=_next_seq(chat),
                role="assistant",
                status="complete",
                content=answer,
                confidence=confidence,
                sources=msgspec.to_builtins(citations),
            )
            session.add(reply)
            # The citations need the message id, which the database generates.
            await session.flush()
            session.add_all(
                MessageCitation(
                    message_id=reply.id,
                    user_id=user_id,
                    rank=c.rank,
                    document_id=c.document_id,
                    chunk_id=c.chunk_id,
                    point_id=c.point_id,
                    score=c.score,
                    document_title=c.document_title,
                    document_url=c.document_url,
                    snippet=c.snippet,
                )
                for c in citations
            )
            await session.commit()
            await session.refresh(reply)
            return reply


async def _by_client_id(
    session: AsyncSession, session_id: uuid.UUID, client_message_id: str
) -> ChatMessage | None:
    result = await session.scalars(
        select(ChatMessage).where(
            ChatMessage.session_id == session_id,
            ChatMessage.client_message_id == client_message_id,
        )
    )
    return result.one_or_none()


def _owned(message: ChatMessage, user_id: uuid.UUID) -> ChatMessage:
    if message.user_id != user_id:
        raise LookupError("session not found")
    return message


async def _lock_own_session(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
) -> ChatSession:
    # The row lock serializes appends to one session, so two of them never read the same
    # last_seq and collide on the unique (session_id, seq).
    chat = await session.get(ChatSession, session_id, with_for_update=True)
    if chat is None or chat.user_id != user_id:
        raise LookupError("session not found")
    return chat


def _next_seq(chat: ChatSession) -> int:
    chat.last_seq += 1
    chat.last_activity_at = func.now()
    return chat.last_seq
