"""The service behind PgBouncer in transaction mode, with its default settings (issue 12, item 7).

PgBouncer in transaction mode hands a server connection to a client for one transaction
at a time, so asyncpg's named prepared statements (its statement cache, on by default) go
missing under load: 27 of 32 first chats failed with 500 while /ready said ready. The
service now finds the pooler at startup and switches the cache off with a warning; should
it not, every such failure is a 503 whose log line names DB_STATEMENT_CACHE_SIZE=0, and
/ready fails with it.

Real processes: this module's own PostgreSQL, and Debian's pgbouncer on 127.0.0.1 in front
of it (skipped, saying so, only where pgbouncer is not installed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import msgspec
import pytest

from service import connections, store
from service.app import create_app
from service.connections import open_pool, shares_backends
from service.settings import Settings
from tests.faults.conftest import Bouncer, pgbouncer
from tests.pgserver import TempServer
from tests.service.conftest import serve

FIRST_CHATS = 32
CLIENT_TIMEOUT = 15.0  # seconds: a hanging request fails the test, not the run
FIX = "DB_STATEMENT_CACHE_SIZE=0"


@pytest.fixture(scope="module")
def bouncer(own_server: tuple[TempServer, str]) -> Iterator[Bouncer]:
    server, _ = own_server
    with pgbouncer(server, pool_mode="transaction") as running:
        yield running


def default_settings(url: str) -> Settings:
    """The defaults (a statement cache of 100 among them), but the in-memory Qdrant."""
    settings = Settings(database_url=url, qdrant_url=":memory:")
    assert settings.db_statement_cache_size > 0
    return settings


@pytest.mark.anyio
async def test_transaction_pooling_is_found_and_the_statement_cache_switched_off(
    own_server: tuple[TempServer, str], bouncer: Bouncer, caplog: pytest.LogCaptureFixture
) -> None:
    _, direct = own_server
    through = bouncer.url("chat")
    assert await shares_backends(through, default_settings(through))
    assert not await shares_backends(direct, default_settings(direct))

    with caplog.at_level(logging.WARNING, logger="service.connections"):
        pool = await open_pool(default_settings(through))
    try:
        [warning] = [r for r in caplog.records if r.name == "service.connections"]
        assert FIX in warning.getMessage()
        user = await store.create_anonymous_user(pool)

        async def first_turn() -> None:
            session = await store.create_session(pool, user.id)
            await store.start_chat_turn(pool, user.id, session.id, content="hello")
            await store.list_messages(pool, user.id, session.id, limit=10)

        await asyncio.gather(*(first_turn() for _ in range(FIRST_CHATS)))
    finally:
        await pool.close()

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="service.connections"):
        pool = await open_pool(default_settings(direct))  # no pooler: no warning, cache kept
        await pool.close()
    assert not [r for r in caplog.records if r.name == "service.connections"]


def _first_chat(base_url: str, number: int) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT) as http:
        return http.post("/chat", json={"message": f"first question number {number}"})


def test_32_concurrent_first_chats_through_pgbouncer_succeed_and_ready_tells_the_truth(
    bouncer: Bouncer,
) -> None:
    with (
        serve(create_app(default_settings(bouncer.url("chat")))) as base_url,
        ThreadPoolExecutor(FIRST_CHATS + 1) as threads,
    ):
        ready_during = threads.submit(lambda: httpx.get(f"{base_url}/ready", timeout=5))
        replies = list(threads.map(lambda n: _first_chat(base_url, n), range(FIRST_CHATS)))
        ready = httpx.get(f"{base_url}/ready", timeout=CLIENT_TIMEOUT)

        failed = [(r.status_code, r.text[:300]) for r in replies if r.status_code != 200]
        assert not failed, failed
        assert all(reply.json()["saved"] is True for reply in replies)
        for response in (ready_during.result(), ready):
            assert response.status_code == 200, response.text
            assert response.json()["checks"]["database"] == "ok"
        # What was stored can be read back through the pooler.
        reply = replies[0].json()
        history = httpx.get(
            f"{base_url}/sessions/{reply['session_id']}/messages",
            headers={"Authorization": f"Bearer {reply['token']}"},
            timeout=CLIENT_TIMEOUT,
        )
        assert history.status_code == 200, history.text
        assert [m["status"] for m in history.json()["messages"]] == ["complete", "complete"]


def test_should_the_pooler_go_unnoticed_ready_fails_and_requests_get_503_naming_the_fix(
    bouncer: Bouncer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The startup probe missed the pooler (here: made to), so the statement cache is on
    behind PgBouncer: /ready must not say ready, no request may end in a 500, and the log
    says what to set."""

    async def missed(url: str, settings: Settings) -> bool:
        return False

    monkeypatch.setattr(connections, "shares_backends", missed)
    # The module's other test made 32 anonymous users from this address already.
    settings = msgspec.structs.replace(
        default_settings(bouncer.url("chat")), anon_users_per_address_per_hour=0
    )
    with (
        caplog.at_level(logging.WARNING),
        serve(create_app(settings)) as base_url,
        ThreadPoolExecutor(FIRST_CHATS) as threads,
    ):
        replies = list(threads.map(lambda n: _first_chat(base_url, n), range(FIRST_CHATS)))
        ready = httpx.get(f"{base_url}/ready", timeout=CLIENT_TIMEOUT)

    assert ready.status_code == 503, ready.text
    assert ready.json()["checks"]["database"] != "ok"
    statuses = sorted({reply.status_code for reply in replies})
    assert set(statuses) <= {200, 503}, [r.text[:300] for r in replies if r.status_code >= 500]
    for reply in replies:
        assert "prepared statement" not in reply.text  # the driver's words stay in the log
    assert any(FIX in record.getMessage() for record in caplog.records)
