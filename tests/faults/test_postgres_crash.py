"""PostgreSQL crashes or restarts under concurrent work (issue 12, item 2; DESIGN.md section 6).

Every shape in which asyncpg reports the lost connections (class 08 errors, an
InterfaceError, an InternalClientError "cannot switch to state ..."; seen after a kill -9
of the postmaster) is one of ``store.UNAVAILABLE``: retried by the store, then answered
503, never 500. The pool survives without a restart: within a second or two of the server
coming back every call succeeds, and no broken connection was kept in the pool.

The server is this module's own (``own_server``), crashed for real: no mock stands in for it.
"""

from __future__ import annotations

import asyncio
import datetime
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from service import store
from service.app import create_app
from service.connections import open_pool
from service.settings import Settings
from tests.faults.conftest import crash, restart_immediately, signed_up
from tests.pgserver import TempServer
from tests.service.conftest import app_settings, serve

CLIENTS = 24
BEFORE = 0.8  # seconds of work before the fault
AFTER = 3.0  # seconds of work after the server is back
# Work started this long after the server is back must succeed (measured: 0.6-1.1 s).
RECOVERED_WITHIN = 2.0  # seconds
CLIENT_TIMEOUT = 15.0  # seconds: a hanging request fails the test, not the run


def crash_and_start(server: TempServer) -> None:
    crash(server)
    server.start()


def restart_fast(server: TempServer) -> None:
    """``pg_ctl stop -m fast`` then start: backends are told to end ("terminating connection
    due to administrator command"), idle connections are closed under the pool."""
    server.stop()
    server.start()


FAULTS: dict[str, Callable[[TempServer], None]] = {
    "kill-9-of-the-postmaster": crash_and_start,
    "immediate-restart": restart_immediately,
    "fast-restart": restart_fast,
}


@dataclass(frozen=True)
class Outcome:
    started: float  # time.monotonic() when the call began
    error: BaseException | None


async def _store_work(pool: store.Pool, user_id: uuid.UUID) -> None:
    """What a chat turn and a history read ask of the store."""
    session = await store.create_session(pool, user_id)
    await store.start_chat_turn(pool, user_id, session.id, content="hello")
    await store.list_messages(pool, user_id, session.id, limit=10)


@pytest.mark.anyio
@pytest.mark.parametrize("fault", FAULTS)
async def test_store_calls_across_a_crash_fail_only_as_unavailable_and_recover(
    own_server: tuple[TempServer, str], fault: str
) -> None:
    server, url = own_server
    pool = await open_pool(Settings(database_url=url, db_pool_min_size=1, db_pool_max_size=10))
    try:
        user = await store.create_anonymous_user(pool)
        started_at = await pool.fetchval("SELECT pg_postmaster_start_time()")
        outcomes: list[Outcome] = []
        stop = asyncio.Event()

        async def client() -> None:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    await _store_work(pool, user.id)
                except Exception as error:
                    outcomes.append(Outcome(started, error))
                    await asyncio.sleep(0.02)
                else:
                    outcomes.append(Outcome(started, None))

        clients = [asyncio.create_task(client()) for _ in range(CLIENTS)]
        await asyncio.sleep(BEFORE)
        await asyncio.to_thread(FAULTS[fault], server)
        back = time.monotonic()
        await asyncio.sleep(AFTER)
        stop.set()
        await asyncio.gather(*clients)

        errors = [outcome.error for outcome in outcomes if outcome.error is not None]
        others = [error for error in errors if not isinstance(error, store.UNAVAILABLE)]
        assert not others, [f"{type(error).__name__}: {error}" for error in others[:5]]
        late = [o for o in outcomes if o.started > back + RECOVERED_WITHIN and o.error]
        assert not late, [f"{type(o.error).__name__}: {o.error}" for o in late[:5]]
        assert any(o.started > back + RECOVERED_WITHIN for o in outcomes)

        # The server did go away (some calls may have failed, or not: the store's retries
        # can bridge a short restart), and every connection the pool holds now works: none
        # broken by the fault was kept.
        assert await pool.fetchval("SELECT pg_postmaster_start_time()") > started_at
        connections = [await pool.acquire() for _ in range(pool.get_max_size())]
        try:
            for connection in connections:
                assert await connection.fetchval("SELECT 1") == 1
        finally:
            for connection in connections:
                await pool.release(connection)
    finally:
        await pool.close()


# --- the same over HTTP: never a 500 ---------------------------------------------------------


@pytest.fixture(scope="module")
def served(own_server: tuple[TempServer, str]) -> Iterator[str]:
    """The app over this module's server, served by uvicorn on loopback: its base URL."""
    _, url = own_server
    settings = app_settings(url, db_pool_max_size=10, chat_turns_per_user_per_minute=0)
    with serve(create_app(settings)) as base_url:
        yield base_url


@dataclass(frozen=True)
class Reply:
    started: float
    what: str  # "POST /chat" or "GET history"
    status: int | None  # None: no response (the connection was dropped, or it hung)
    detail: str


def _postmaster_start_time(server: TempServer) -> datetime.datetime:
    with psycopg.connect(server.url()) as connection:
        row = connection.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert row is not None
    started: datetime.datetime = row[0]
    return started


@pytest.mark.parametrize("fault", ["kill-9-of-the-postmaster", "immediate-restart"])
def test_no_500_and_no_dropped_connection_while_postgres_crashes_under_chats(
    own_server: tuple[TempServer, str], served: str, fault: str
) -> None:
    server, _ = own_server
    with ThreadPoolExecutor(CLIENTS) as pool:
        users = list(pool.map(lambda _: signed_up(served), range(CLIENTS)))
    started_at = _postmaster_start_time(server)
    replies: list[Reply] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(auth: dict[str, str], session_id: str) -> None:
        with httpx.Client(base_url=served, timeout=CLIENT_TIMEOUT, headers=auth) as http:

            def send(what: str, request: httpx.Request) -> None:
                started = time.monotonic()
                try:
                    response = http.send(request)
                except httpx.HTTPError as error:
                    reply = Reply(started, what, None, f"{type(error).__name__}: {error}")
                else:
                    reply = Reply(started, what, response.status_code, response.text[:300])
                with lock:
                    replies.append(reply)

            turn = 0
            while not stop.is_set():
                turn += 1
                body = {"message": f"turn {turn}", "session_id": session_id}
                send("POST /chat", http.build_request("POST", "/chat", json=body))
                history = f"/sessions/{session_id}/messages"
                send("GET history", http.build_request("GET", history))

    threads = [threading.Thread(target=client, args=user) for user in users]
    for thread in threads:
        thread.start()
    try:
        time.sleep(BEFORE)
        FAULTS[fault](server)
        back = time.monotonic()
        time.sleep(AFTER)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=CLIENT_TIMEOUT + 5)

    unexpected = [r for r in replies if r.status not in (200, 503)]
    assert not unexpected, unexpected[:5]
    assert _postmaster_start_time(server) > started_at  # the fault did happen
    late = [r for r in replies if r.started > back + RECOVERED_WITHIN and r.status != 200]
    assert not late, late[:5]
    assert any(r.started > back + RECOVERED_WITHIN for r in replies)
