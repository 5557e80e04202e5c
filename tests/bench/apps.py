"""The apps level 2 serves with uvicorn: the real service, and a bare Starlette ceiling.

``python -m tests.bench.serve tests.bench.apps:real_app`` (or ``bare_app``); the history
endpoint's peers are ``tests.bench.starlette_peer:create_app`` (hand-written Starlette +
asyncpg) and ``tests.bench.peer_service:create_app`` (FastAPI + SQLAlchemy). The service is
imported by ``real_app`` only, so that a worker serving the bare route starts as fast as one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def real_app() -> Starlette:
    """The service as ``python -m service serve`` runs it (``service.serving.worker_app``):
    configured from the environment, logging configured (the JSON request line on stderr,
    at the default LOG_LEVEL), and with its own copy of the local Qdrant directory: local
    Qdrant admits one process per directory, and level 2 also runs 2 workers."""
    from service.app import create_app
    from service.logs import configure_logging
    from service.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level)
    copy = Path(f"{settings.qdrant_path}-{os.getpid()}")
    shutil.copytree(settings.qdrant_path, copy)
    return create_app(msgspec.structs.replace(settings, qdrant_path=str(copy)))


async def _status(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "path": request.url.path})


def bare_app() -> Starlette:
    """One JSON route and nothing else: what uvicorn and Starlette cost per request."""
    return Starlette(routes=[Route("/json", _status)])
