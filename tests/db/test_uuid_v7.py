"""uuid_v7(): time-ordered keys for the tables every chat turn grows (issue 14, item 3), the
same definition on every supported PostgreSQL (the tests run on 18 and on 15)."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import pytest

from service import store

pytestmark = pytest.mark.anyio


async def test_uuid_v7_is_a_version_7_uuid_of_the_current_millisecond(pool: store.Pool) -> None:
    before = datetime.datetime.now(datetime.UTC)
    value: uuid.UUID = await pool.fetchval("SELECT uuid_v7()")
    after = datetime.datetime.now(datetime.UTC)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    milliseconds = int.from_bytes(value.bytes[:6], "big")
    stamped = datetime.datetime.fromtimestamp(milliseconds / 1000, datetime.UTC)
    assert before - datetime.timedelta(milliseconds=1) <= stamped <= after
    # The random part is random: two in one statement differ.
    row = await pool.fetchrow("SELECT uuid_v7(), uuid_v7()")
    assert row is not None
    assert row[0] != row[1]


async def test_keys_made_in_later_milliseconds_sort_later(pool: store.Pool) -> None:
    keys = []
    for _ in range(5):
        keys.append(await pool.fetchval("SELECT uuid_v7()"))
        await asyncio.sleep(0.002)
    assert keys == sorted(keys)


async def test_new_sessions_messages_and_chunks_get_time_ordered_keys(pool: store.Pool) -> None:
    user = await store.create_anonymous_user(pool)
    session = await store.create_session(pool, user.id)
    turn = await store.start_chat_turn(pool, user.id, session.id, content="hello")
    assert session.id.version == 7
    assert turn.user_message.id.version == 7
    assert turn.assistant_message.id.version == 7
    default = await pool.fetchval(
        "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef"
        " WHERE adrelid = 'document_chunks'::regclass"
        " AND adnum = (SELECT attnum FROM pg_attribute"
        "              WHERE attrelid = 'document_chunks'::regclass AND attname = 'id')"
    )
    assert default == "uuid_v7()"
