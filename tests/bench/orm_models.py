"""SQLAlchemy 2.0 declarative models of the chat tables, for the ORM peers in the benchmarks.

The mapping mirrors ``db/schema.sql`` (names, types, nullability, primary keys, unique and
foreign key constraints among these tables) but never creates anything: the schema comes
from the migrations, so check constraints, indexes and triggers are left out. Every column
with a default in the database is marked ``FetchedValue()``, so the ORM leaves it out of
its INSERTs and reads the value back instead of sending a Python-side default.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Double,
    FetchedValue,
    ForeignKey,
    ForeignKeyConstraint,
    LargeBinary,
    SmallInteger,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "ChatMessage", "ChatSession", "MessageCitation", "User", "UserCredential"]


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 (read by the declarative machinery, never mutated)
        uuid.UUID: Uuid(as_uuid=True),
        str: Text(),
        datetime.datetime: TIMESTAMP(timezone=True),
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=FetchedValue())
    email: Mapped[str | None]
    name: Mapped[str | None]
    is_anonymous: Mapped[bool] = mapped_column(server_default=FetchedValue())
    created_at: Mapped[datetime.datetime] = mapped_column(server_default=FetchedValue())
    # A trigger sets it on every UPDATE, so the ORM must not trust its copy after one.
    updated_at: Mapped[datetime.datetime] = mapped_column(
        server_default=FetchedValue(), server_onupdate=FetchedValue()
    )


class ChatSession(Base):
    __tablename__ = "chat_sessions"
    __table_args__ = (UniqueConstraint("id", "user_id", name="chat_sessions_id_user_id_key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=FetchedValue())
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str | None]
    # "metadata" is taken by DeclarativeBase, hence the attribute name.
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, server_default=FetchedValue()
    )
    created_at: Mapped[datetime.datetime] = mapped_column(server_default=FetchedValue())
    # The trigger fires only on changes to title or metadata.
    updated_at: Mapped[datetime.datetime] = mapped_column(
        server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    last_activity_at: Mapped[datetime.datetime] = mapped_column(server_default=FetchedValue())
    last_accessed_at: Mapped[datetime.datetime] = mapped_column(server_default=FetchedValue())
    last_seq: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue())


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("id", "user_id", name="chat_messages_id_user_id_key"),
        UniqueConstraint(
            "session_id", "client_message_id", name="chat_messages_session_id_client_message_id_key"
        ),
        UniqueConstraint("session_id", "seq", name="chat_messages_session_id_seq_key"),
        ForeignKeyConstraint(
            ["session_id", "user_id"],
            ["chat_sessions.id", "chat_sessions.user_id"],
            name="chat_messages_session_fkey",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["reply_to_id", "user_id"],
            ["chat_messages.id", "chat_messages.user_id"],
            name="chat_messages_reply_to_fkey",
            ondelete="CASCADE",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=FetchedValue())
    session_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    seq: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str]
    status: Mapped[str] = mapped_column(server_default=FetchedValue())
    error: Mapped[str | None]
    content: Mapped[str]
    sources: Mapped[list[Any]] = mapped_column(JSONB, server_default=FetchedValue())
    confidence: Mapped[float | None] = mapped_column(Double)
    token_count: Mapped[int | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, server_default=FetchedValue()
    )
    client_message_id: Mapped[str | None]
    reply_to_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime.datetime] = mapped_column(server_default=FetchedValue())
    updated_at: Mapped[datetime.datetime] = mapped_column(
        server_default=FetchedValue(), server_onupdate=FetchedValue()
    )


class MessageCitation(Base):
    __tablename__ = "message_citations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["message_id", "user_id"],
            ["chat_messages.id", "chat_messages.user_id"],
            name="message_citations_message_fkey",
            ondelete="CASCADE",
        ),
    )

    message_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID]
    rank: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    # Their foreign keys (to documents and document_chunks) are left out: those tables are
    # not mapped here, and a key to an unknown table would break the mapping.
    document_id: Mapped[uuid.UUID | None]
    chunk_id: Mapped[uuid.UUID | None]
    point_id: Mapped[uuid.UUID | None]
    score: Mapped[float | None] = mapped_column(Double)
    document_title: Mapped[str | None]
    document_url: Mapped[str | None]
    snippet: Mapped[str | None]


class UserCredential(Base):
    __tablename__ = "user_credentials"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=FetchedValue())
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    kind: Mapped[str] = mapped_column(server_default=FetchedValue())
    label: Mapped[str | None]
    created_at: Mapped[datetime.datetime] = mapped_column(server_default=FetchedValue())
    expires_at: Mapped[datetime.datetime]
    revoked_at: Mapped[datetime.datetime | None]
    last_used_at: Mapped[datetime.datetime | None]
