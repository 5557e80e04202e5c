"""Service fixtures: the real app with its lifespan running, over this test's own database.

Service tests run on the embedded PostgreSQL 18 only: the HTTP layer is version-neutral,
and the database tests already cover PostgreSQL 15.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import ROOT, free_port


@pytest.fixture(scope="session")
def pg_kind() -> str:
    """Overrides the parametrized server kind: the embedded PostgreSQL 18 only."""
    return "pg18-embedded"


def app_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test app: its own database, qdrant-client's in-memory Qdrant, small pool.

    (tests/rag runs retrieval and ingestion over both vector engines.)
    """
    values: dict[str, Any] = {
        "database_url": database_url,
        "qdrant_url": ":memory:",
        "db_pool_min_size": 1,
        "db_pool_max_size": 5,
        # Abuse limits counted as in production, but far above what any test does from its
        # one address; tests/service/test_limits.py sets its own.
        "anon_users_per_address_per_hour": 1_000_000,
        "chat_turns_per_user_per_minute": 1_000_000,
        "uploads_per_user_per_day": 1_000_000,
        "upload_bytes_per_user_per_day": 10**12,
    }
    return Settings(**(values | overrides))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return app_settings(database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A TestClient over the app, lifespan running; 500s come back as responses."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def sign_up(client: TestClient) -> dict[str, str]:
    """A new anonymous user (made by a first /chat): their Authorization header."""
    response = client.post("/chat", json={"message": "hello"})
    assert response.status_code == 200, response.text
    client.cookies.clear()  # each caller authenticates by header only
    return {"Authorization": f"Bearer {response.json()['token']}"}


def user_id_of(postgresql: psycopg.Connection[Any], session_id: str) -> uuid.UUID:
    """The owner of a session, read from the database."""
    row = postgresql.execute(
        "SELECT user_id FROM chat_sessions WHERE id = %s", (session_id,)
    ).fetchone()
    postgresql.commit()
    assert row is not None
    user_id: uuid.UUID = row[0]
    return user_id


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Serve the app with uvicorn on a loopback port in a background thread; yields its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            proxy_headers=False,  # as python -m service serve: TRUSTED_PROXIES decides
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def start_service(database_url: str, cwd: Path, **environ: str) -> subprocess.Popen[str]:
    """``python -m service serve --port 0`` as its own process over the test's database,
    with ``environ`` on top of a minimal environment; its first stdout line says where it
    serves (``Serving on http://...``)."""
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "INGEST_WORKER": "false",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", "0"],
        cwd=cwd,
        env=base | environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
