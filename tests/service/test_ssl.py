"""The service reaches PostgreSQL over TLS when DATABASE_URL says sslmode=require (issue 4).

The module's cluster listens on 127.0.0.1 with ssl=on and a self-signed certificate made
here, and its pg_hba.conf rejects TCP connections without TLS: a connection that gets in
over TCP used TLS, and sslmode=disable is turned away.

The embedded PostgreSQL 18 is built without SSL, so unlike the other service tests these
run on Debian's PostgreSQL 15, and are skipped when it is not installed (see pgservers).
"""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import psycopg
import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.connections import open_pool
from tests.conftest import dbmate
from tests.service.conftest import app_settings
from tests.service.pgservers import TlsServer, tls_server

DATABASE = "chat"
SSL_OF_THIS_BACKEND = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@pytest.fixture(scope="module")
def server() -> Iterator[TlsServer]:
    server = tls_server()
    if server is None:
        pytest.skip("no PostgreSQL build with SSL: install Debian's postgresql-15")
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            server.remove()


@pytest.fixture(scope="module")
def require_url(server: TlsServer) -> str:
    """The migrated database's URL with sslmode=require, as a hosted database is reached."""
    url = server.tcp_url(DATABASE, "require")
    dbmate(url, "up")  # over TLS too: creates the database, then migrates it
    return url


def tcp_backends_tls(server: TlsServer) -> list[bool]:
    """For each backend serving a TCP client of the database: whether it uses TLS."""
    with psycopg.connect(host=server.socket_dir, port=server.port, user="postgres") as conn:
        rows = conn.execute(
            "SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
            " WHERE a.datname = %s AND a.client_addr IS NOT NULL",
            (DATABASE,),
        ).fetchall()
    return [bool(ssl) for (ssl,) in rows]


def test_an_app_over_sslmode_require_is_ready_and_saves_chats(
    server: TlsServer, require_url: str
) -> None:
    with TestClient(create_app(app_settings(require_url)), raise_server_exceptions=False) as client:
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "qdrant": "ok"}

        turn = client.post("/chat", json={"message": "is this connection encrypted?"})
        assert turn.status_code == 200, turn.text
        assert turn.json()["saved"] is True
        client.cookies.clear()
        history = client.get(
            f"/sessions/{turn.json()['session_id']}/messages",
            headers={"Authorization": f"Bearer {turn.json()['token']}"},
        )
        assert history.status_code == 200, history.text
        assert [message["content"] for message in history.json()["messages"]] == [
            "is this connection encrypted?",
            turn.json()["answer"],
        ]

        # The app's own pooled connections, as the server sees them.
        backends = tcp_backends_tls(server)
        assert backends, "the app holds no connection to the database"
        assert all(backends)


@pytest.mark.anyio
async def test_the_apps_pool_connects_with_tls(require_url: str) -> None:
    pool = await open_pool(app_settings(require_url))
    try:
        assert await pool.fetchval(SSL_OF_THIS_BACKEND) is True
    finally:
        await pool.close()


@pytest.mark.anyio
async def test_a_connection_by_the_same_url_uses_tls(require_url: str) -> None:
    conn = await asyncpg.connect(require_url)
    try:
        assert await conn.fetchval(SSL_OF_THIS_BACKEND) is True
    finally:
        await conn.close()


@pytest.mark.anyio
async def test_sslmode_disable_is_refused_so_the_connections_above_used_tls(
    server: TlsServer, require_url: str
) -> None:
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="no encryption"):
        await asyncpg.connect(server.tcp_url(DATABASE, "disable"))
