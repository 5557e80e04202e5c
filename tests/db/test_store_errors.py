"""Database errors become the store's named errors, in one place; transactions retry safely."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from service import store
from service.store import tx
from service.store.errors import mapped_errors

pytestmark = pytest.mark.anyio


async def test_a_nul_byte_in_content_is_invalid_input_and_stores_nothing(pool: store.Pool) -> None:
    user = await store.create_anonymous_user(pool)
    session = await store.create_session(pool, user.id)
    with pytest.raises(store.InvalidInput):
        await store.start_chat_turn(pool, user.id, session.id, content="\x00")
    with pytest.raises(store.InvalidInput):
        await store.create_session(pool, user.id, title="nul\x00title")
    assert await pool.fetchval("SELECT count(*) FROM chat_messages") == 0
    assert (await store.get_session(pool, user.id, session.id)).last_seq == 0


async def test_values_breaking_a_constraint_are_invalid_input(pool: store.Pool) -> None:
    user = await store.create_anonymous_user(pool)
    session = await store.create_session(pool, user.id)
    with pytest.raises(store.InvalidInput, match="chat_messages_client_message_id_check"):
        await store.start_chat_turn(
            pool, user.id, session.id, content="x", client_message_id="k" * 201
        )
    turn = await store.start_chat_turn(pool, user.id, session.id, content="x")
    with pytest.raises(store.InvalidInput, match="chat_messages_confidence_check"):
        await store.complete_chat_turn(
            pool, user.id, turn.assistant_message.id, content="sure", confidence=1.5
        )
    with pytest.raises(store.InvalidInput):
        await store.create_user(pool, email="not-an-email")


async def test_a_duplicate_is_a_conflict(pool: store.Pool) -> None:
    await store.create_user(pool, email="ada@example.org", name="Ada")
    with pytest.raises(store.Conflict, match="users_email_key"):
        await store.create_user(pool, email="ADA@example.org")


async def test_an_unknown_session_or_user_is_not_found(pool: store.Pool) -> None:
    user = await store.create_anonymous_user(pool)
    unknown = uuid.uuid4()
    with pytest.raises(store.NotFound):
        await store.start_chat_turn(pool, user.id, unknown, content="x", client_message_id="c")
    with pytest.raises(store.NotFound):
        await store.list_messages(pool, user.id, unknown, limit=10)
    with pytest.raises(store.NotFound):  # 23503 foreign_key_violation
        await store.create_session(pool, unknown, title="orphan")


async def test_other_database_errors_are_not_disguised(pool: store.Pool) -> None:
    with pytest.raises(asyncpg.PostgresSyntaxError), mapped_errors():
        await pool.execute("SELEC 1")


async def test_exec_tx_retries_serialization_failures_a_bounded_number_of_times(
    pool: store.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tx, "FIRST_BACKOFF", 0.001)
    calls: list[int] = []

    async def flaky(conn: store.Connection) -> int:
        calls.append(1)
        await conn.execute(
            "CREATE TEMP TABLE attempt (n int) ON COMMIT DROP"
        )  # fails if not rolled back
        if len(calls) < 3:
            raise asyncpg.SerializationError("could not serialize access")
        return len(calls)

    async def always_deadlocked(conn: store.Connection) -> None:
        calls.append(1)
        raise asyncpg.DeadlockDetectedError("deadlock detected")

    assert await store.exec_tx(pool, flaky) == 3
    calls.clear()
    with pytest.raises(asyncpg.DeadlockDetectedError):
        await store.exec_tx(pool, always_deadlocked, attempts=2)
    assert len(calls) == 2
    calls.clear()
    async with pool.acquire() as conn:  # the caller's connection: never retried
        with pytest.raises(asyncpg.SerializationError):
            await store.exec_tx(conn, flaky)
    assert len(calls) == 1


async def test_exec_tx_retries_when_the_connection_is_lost_mid_transaction(
    pool: store.Pool,
) -> None:
    backends: list[int] = []

    async def work(conn: store.Connection) -> int:
        backends.append(await conn.fetchval("SELECT pg_backend_pid()"))
        if len(backends) == 1:  # the server ends this connection, as a restart would
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        count: int = await conn.fetchval("SELECT count(*) FROM users")
        return count

    assert await store.exec_tx(pool, work) == 0
    assert len(backends) == 2
    assert backends[0] != backends[1]
