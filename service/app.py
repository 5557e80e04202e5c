"""The application: settings, one lifespan holding the pool and clients, routes, handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from qdrant_client import AsyncQdrantClient
from starlette.applications import Starlette
from starlette.middleware import Middleware

from .answers import Answerer, OfflineAnswerer
from .connections import open_pool, open_qdrant
from .errors import exception_handlers
from .identity import Identity, TokenIdentity
from .middleware import BodyLimit, RequestContext
from .openapi import openapi_document
from .routes import routes
from .settings import Settings, load_settings
from .store import Pool

__all__ = ["State", "create_app"]


class State(TypedDict):
    """What every request sees as ``request.state``."""

    settings: Settings
    db: Pool
    qdrant: AsyncQdrantClient
    identity: Identity
    answerer: Answerer


def create_app(settings: Settings | None = None, *, answerer: Answerer | None = None) -> Starlette:
    """The app; ``uvicorn --factory service.app:create_app`` reads settings from the environment."""
    settings = load_settings() if settings is None else settings

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        pool = await open_pool(settings)
        try:
            qdrant = open_qdrant(settings)
            try:
                yield State(
                    settings=settings,
                    db=pool,
                    qdrant=qdrant,
                    identity=TokenIdentity(pool, settings),
                    answerer=OfflineAnswerer() if answerer is None else answerer,
                )
            finally:
                await qdrant.close()
        finally:
            await pool.close()

    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(RequestContext),
            Middleware(
                BodyLimit,
                max_body_bytes=settings.max_body_bytes,
                max_upload_bytes=settings.max_upload_bytes,
            ),
        ],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.openapi = openapi_document(settings)
    return app
