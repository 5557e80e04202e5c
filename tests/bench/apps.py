"""The apps level 2 serves with uvicorn: the real service, and a bare Starlette ceiling.

``python -m tests.bench.serve tests.bench.apps:real_app`` (or ``bare_app``); the FastAPI + SQLAlchemy
peer is ``tests.bench.peer_service:create_app``.
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

from service.app import create_app
from service.settings import load_settings


def real_app() -> Starlette:
    """The service from the environment, with its own copy of the local Qdrant directory:
    local Qdrant admits one process per directory, and level 2 also runs 2 workers."""
    settings = load_settings()
    copy = Path(f"{settings.qdrant_path}-{os.getpid()}")
    shutil.copytree(settings.qdrant_path, copy)
    return create_app(msgspec.structs.replace(settings, qdrant_path=str(copy)))


async def _status(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "path": request.url.path})


def bare_app() -> Starlette:
    """One JSON route and nothing else: what uvicorn and Starlette cost per request."""
    return Starlette(routes=[Route("/json", _status)])
