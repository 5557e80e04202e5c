"""The application: settings, one lifespan holding the pool and clients, routes, handlers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypedDict

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from . import store
from .connections import open_pool, open_vectors
from .domain import Answerer
from .endpoints import pages
from .errors import exception_handlers
from .gateway import Gateway
from .identity import Identity, TokenIdentity
from .middleware import BodyLimit, ForwardedClient, RequestContext
from .openapi import openapi_document
from .rag.edge import EngineBusy
from .rag.providers import ChatCompletions, Embeddings
from .rag.sparse import Lexical
from .rag.vectors import LayoutMismatch, VectorStore
from .routes import routes
from .settings import Settings, load_settings
from .store import Pool
from .usecases.accounts import Accounts
from .usecases.answering import RagAnswerer
from .usecases.chat import ChatTurns
from .usecases.conversations import Conversations
from .usecases.credential_cache import CredentialCache
from .usecases.documents import Documents
from .usecases.erasure import Erasure
from .usecases.exports import Exports
from .usecases.ingestion import Ingestor
from .usecases.jwt_tokens import JwtVerifier
from .usecases.limits import Limits
from .usecases.point_owners import PointOwners
from .usecases.retention import Retention

__all__ = ["State", "create_app"]

log = logging.getLogger("service.app")


class State(TypedDict):
    """What every request sees as ``request.state``."""

    settings: Settings
    db: Pool
    vectors: VectorStore
    ingestor: Ingestor
    answerer: Answerer
    accounts: Accounts
    turns: ChatTurns
    conversations: Conversations
    documents: Documents
    identity: Identity
    limits: Limits
    point_owners: PointOwners
    exports: Exports
    erasure: Erasure
    retention: Retention


@asynccontextmanager
async def open_state(
    settings: Settings,
    answerer: Answerer | None = None,
    *,
    check_layout: bool = True,
    serving: bool = False,
) -> AsyncIterator[State]:
    """Open everything the service holds for its lifetime, and close it all on exit.

    Raises EngineBusy when another process owns the embedded engine, and LayoutMismatch
    when the collection's vectors are not the configured ones (unless ``check_layout`` is
    false: reindex replaces them). ``serving``: for a process that answers requests, which
    caches who tokens name (CREDENTIAL_CACHE_SECONDS) and follows revocations for that.
    """
    async with AsyncExitStack() as stack:
        pool = await open_pool(settings)
        stack.push_async_callback(pool.close)
        dense = None
        if settings.embedding_base_url is not None:
            dense = Embeddings(
                settings.embedding_base_url,
                model=settings.embedding_model,
                api_key=settings.embedding_api_key,
                timeout=settings.provider_timeout,
            )
            stack.push_async_callback(dense.aclose)
        llm = None
        if settings.llm_base_url is not None:
            llm = ChatCompletions(
                settings.llm_base_url,
                model=settings.llm_model,
                api_key=settings.llm_api_key,
                timeout=settings.provider_timeout,
            )
            stack.push_async_callback(llm.aclose)
        lexical = Lexical.configured(settings)
        vectors = open_vectors(settings, lexical, dense)
        stack.push_async_callback(vectors.close)
        try:
            await vectors.open(check_layout=check_layout)
        except (LayoutMismatch, EngineBusy):
            raise  # configuration errors: the service cannot serve retrieval as configured
        except Exception as error:  # a server not reachable yet: /ready reports it
            log.warning("vector store unavailable at startup: %s: %s", type(error).__name__, error)
        ingestor = Ingestor(pool, vectors, settings, lexical=lexical, dense=dense)
        if answerer is None:
            answerer = RagAnswerer(pool, vectors, settings, lexical=lexical, dense=dense, llm=llm)
        cache = await _credential_cache(settings, stack) if serving else None
        tokens = None
        if settings.jwt_jwks_url is not None:  # sign-in by JWT (issue 16)
            tokens = JwtVerifier(settings)
            stack.push_async_callback(tokens.aclose)
        point_owners = PointOwners(pool, vectors)
        accounts = Accounts(pool, settings, cache=cache, tokens=tokens, claimed=point_owners.wake)
        limits = Limits(pool, settings)
        yield State(
            settings=settings,
            db=pool,
            vectors=vectors,
            ingestor=ingestor,
            answerer=answerer,
            accounts=accounts,
            turns=ChatTurns(
                pool,
                accounts,
                answerer,
                lease=datetime.timedelta(seconds=settings.turn_lease_seconds),
                budget=settings.db_request_budget,
            ),
            conversations=Conversations(pool),
            documents=Documents(pool, vectors, ingestor, settings, limits),
            identity=TokenIdentity(accounts, settings),
            limits=limits,
            point_owners=point_owners,
            exports=Exports(pool, settings),
            erasure=Erasure(pool, vectors, settings, limits, cache=cache),
            retention=Retention(pool, settings),
        )


async def _credential_cache(settings: Settings, stack: AsyncExitStack) -> CredentialCache | None:
    """The credential cache, and the task that keeps it current until ``stack`` closes; None
    when it is off, or cannot be kept current."""
    if settings.credential_cache_seconds == 0 or settings.database_url is None:
        return None
    cache = CredentialCache(
        ttl_seconds=settings.credential_cache_seconds, max_entries=settings.credential_cache_size
    )
    if settings.db_statement_cache_size == 0:
        # Said to be behind a pooler in transaction mode, where LISTEN cannot work: the cache
        # would never be told of revocations, so it stays empty (store.RevocationFeed).
        log.info(
            "credential cache off: LISTEN needs a direct connection (DB_STATEMENT_CACHE_SIZE=0)"
        )
        return None
    feed = store.RevocationFeed(settings.database_url, connect_timeout=settings.db_connect_timeout)
    task = asyncio.create_task(feed.run_forever(cache.revoked, cache.listening), name="revocations")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
    return cache


def _forwarded(settings: Settings) -> list[Middleware]:
    """The client and scheme that TRUSTED_PROXIES forward; none without them."""
    proxies = settings.trusted_proxy_list()
    return [Middleware(ForwardedClient, trusted_proxies=proxies)] if proxies else []


def _cors(settings: Settings) -> list[Middleware]:
    """Cross-origin calls from ALLOWED_ORIGINS (a chat widget on another site), credentials
    included: each listed origin is answered by name, never ``*``; preflights are answered
    here. None without ALLOWED_ORIGINS. Before the body limit and the routes, so that their
    errors are readable cross-origin too."""
    origins = sorted(settings.allowed_origin_set())
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-Anonymous-Token",
                "X-Request-ID",
                "X-Session-Id",
            ],
            expose_headers=["Retry-After", "X-Request-ID", "X-Session-Id"],
            max_age=600,
        )
    ]


def create_app(settings: Settings | None = None, *, answerer: Answerer | None = None) -> Starlette:
    """The app; ``uvicorn --factory service.app:create_app`` reads settings from the environment."""
    settings = load_settings() if settings is None else settings

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        async with open_state(settings, answerer, serving=True) as state:
            # What startup built lives as long as the app. Frozen, the collector stops
            # re-scanning it: with local Qdrant's data in the heap each full collection took
            # about 75 ms, the history endpoint's whole p99 (tests/bench/RESULTS.md).
            gc.freeze()
            workers = []
            if settings.ingest_worker:  # this process is a worker: ingestion and the sweep
                workers = [
                    asyncio.create_task(state["ingestor"].run_forever(), name="ingest"),
                    asyncio.create_task(
                        state["turns"].sweep_forever(settings.turn_sweep_seconds), name="sweep"
                    ),
                    # Vector points whose owner a claim of anonymous history changed.
                    asyncio.create_task(
                        state["point_owners"].run_forever(settings.ingest_poll_seconds),
                        name="point-owners",
                    ),
                    # Vector points of erased users (DELETE /me) whose deletion is still due.
                    asyncio.create_task(state["erasure"].run_forever(), name="erasure"),
                ]
                if settings.retention_days:
                    purge = state["retention"].run_forever(
                        settings.retention_days, settings.retention_interval_seconds
                    )
                    workers.append(asyncio.create_task(purge, name="retention"))
            try:
                yield state
            finally:
                for worker in workers:
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
                gc.unfreeze()  # what this app held can be collected once it is gone

    app = Starlette(
        # The API's routes, and beside them the web pages (/, /docs: not API operations).
        routes=[*routes(), *pages.routes()],
        middleware=[
            # First: everything after it sees the client and scheme a trusted proxy forwarded.
            *_forwarded(settings),
            Middleware(RequestContext),
            *_cors(settings),
            Middleware(
                BodyLimit,
                max_body_bytes=settings.max_body_bytes,
                max_upload_bytes=settings.max_upload_bytes,
            ),
            # Last: the API's operations answered without the router (see gateway).
            Middleware(Gateway),
        ],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.openapi = openapi_document(settings)
    return app
