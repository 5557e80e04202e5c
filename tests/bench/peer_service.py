"""The benchmark's FastAPI peer of our history endpoint, written as a seed project would.

``GET /sessions/{session_id}/messages?limit=10`` answers the last ``limit`` messages of the
caller's session, oldest first, on FastAPI + Pydantic v2 + the SQLAlchemy async ORM
(``tests.bench.orm_models``): a bearer-token dependency resolves the user from
``user_credentials``, a ``get_db`` dependency yields one ``AsyncSession`` per request, and
a Pydantic response model is built from the ORM rows.

Configured by ``DATABASE_URL`` (our URL format) and ``DB_POOL_MAX_SIZE`` (default 10)::

    uvicorn tests.bench.peer_service:create_app --factory
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoint and dependency
# signatures at runtime.

import datetime
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from tests.bench.orm_layer import orm_url
from tests.bench.orm_models import ChatMessage, ChatSession, UserCredential

__all__ = ["MessageList", "MessageOut", "create_app"]


class MessageOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    seq: int
    role: Literal["user", "assistant", "system"]
    status: Literal["pending", "complete", "failed"]
    error: str | None
    content: str
    sources: list[Any]
    confidence: float | None
    token_count: int | None
    # The ORM attribute is metadata_ ("metadata" is taken on declarative models).
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    created_at: datetime.datetime


class MessageList(BaseModel):
    session_id: uuid.UUID
    messages: list[MessageOut]  # oldest first


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(get_db)]

# auto_error=False: a missing header is a 401 with our body, not FastAPI's default.
bearer = HTTPBearer(auto_error=False)


async def current_user_id(
    db: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> uuid.UUID:
    if credentials is None:
        raise _unauthorized("missing bearer token")
    token_hash = hashlib.sha256(credentials.credentials.encode()).digest()
    credential = await db.scalar(
        select(UserCredential).where(
            UserCredential.token_hash == token_hash,
            UserCredential.revoked_at.is_(None),
            UserCredential.expires_at > func.now(),
        )
    )
    if credential is None:
        raise _unauthorized("invalid or expired token")
    return credential.user_id


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


CurrentUserId = Annotated[uuid.UUID, Depends(current_user_id)]

router = APIRouter()


@router.get("/sessions/{session_id}/messages", response_model=MessageList)
async def list_messages(
    session_id: uuid.UUID,
    user_id: CurrentUserId,
    db: DbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> MessageList:
    chat = await db.get(ChatSession, session_id)
    if chat is None or chat.user_id != user_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="session not found")
    result = await db.scalars(
        select(ChatMessage)
        .where(ChatMessage.session_id == session_id)
        .order_by(ChatMessage.seq.desc())
        .limit(limit)
    )
    rows = list(result.all())
    rows.reverse()
    return MessageList(
        session_id=session_id,
        messages=[MessageOut.model_validate(row, from_attributes=True) for row in rows],
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = create_async_engine(
        orm_url(os.environ["DATABASE_URL"]),
        pool_size=int(os.environ.get("DB_POOL_MAX_SIZE", "10")),
        max_overflow=0,
    )
    app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    try:
        yield
    finally:
        await engine.dispose()


def create_app() -> FastAPI:
    app = FastAPI(title="chat history peer (FastAPI + SQLAlchemy ORM)", lifespan=lifespan)
    app.include_router(router)
    return app
