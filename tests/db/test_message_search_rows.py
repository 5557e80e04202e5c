"""chat_message_search follows chat_messages: the triggers write a message's row, the foreign
key moves and deletes it with the message, and no message row carries a vector."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from generated import claims, models
from service import store

pytestmark = pytest.mark.anyio


async def search_row(pool: store.Pool, message_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await pool.fetchrow(
        "SELECT user_id, search_vector::text AS words FROM chat_message_search"
        " WHERE message_id = $1",
        message_id,
    )
    return row


async def new_turn(pool: store.Pool, content: str) -> store.ChatTurn:
    user = await store.create_anonymous_user(pool)
    session = await store.create_session(pool, user.id, title="test")
    return await store.start_chat_turn(pool, user.id, session.id, content=content)


async def test_a_question_has_its_words_and_a_pending_answer_none_until_it_completes(
    pool: store.Pool,
) -> None:
    turn = await new_turn(pool, "Where do the runners meet?")
    question, answer = turn.user_message, turn.assistant_message

    asked = await search_row(pool, question.id)
    assert asked is not None
    assert asked["user_id"] == question.user_id
    assert asked["words"] == "'meet':5 'runner':4"
    assert await search_row(pool, answer.id) is None  # pending: content ''

    await store.complete_chat_turn(
        pool, answer.user_id, answer.id, content="At the gardens, at noon."
    )

    answered = await search_row(pool, answer.id)
    assert answered is not None
    assert answered["words"] == "'garden':3 'noon':5"


async def test_an_edit_rewrites_the_row_and_an_edit_leaving_no_word_removes_it(
    pool: store.Pool,
) -> None:
    question = (await new_turn(pool, "first words")).user_message
    edit = "UPDATE chat_messages SET content = $2 WHERE id = $1"

    await pool.execute(edit, question.id, "second thoughts")
    row = await search_row(pool, question.id)
    assert row is not None
    assert row["words"] == "'second':1 'thought':2"

    await pool.execute(edit, question.id, "the and of")  # stopwords only: nothing to find
    assert await search_row(pool, question.id) is None

    await pool.execute(edit, question.id, "words again")
    assert await search_row(pool, question.id) is not None
    await pool.execute(edit, question.id, "")
    assert await search_row(pool, question.id) is None


async def test_an_update_that_leaves_the_content_alone_does_not_touch_the_row(
    pool: store.Pool,
) -> None:
    question = (await new_turn(pool, "unchanged words")).user_message
    before = await pool.fetchval(
        "SELECT xmin FROM chat_message_search WHERE message_id = $1", question.id
    )

    await pool.execute(
        "UPDATE chat_messages SET content = content, metadata = '{\"k\": 1}' WHERE id = $1",
        question.id,
    )

    after = await pool.fetchval(
        "SELECT xmin FROM chat_message_search WHERE message_id = $1", question.id
    )
    assert after == before


async def test_the_row_moves_with_a_claimed_message_and_goes_with_a_deleted_session(
    pool: store.Pool,
) -> None:
    question = (await new_turn(pool, "moving history")).user_message
    receiver = await store.create_anonymous_user(pool)

    async with pool.acquire() as conn, conn.transaction():
        await claims.move_chat_history(conn, to_user_id=receiver.id, user_id=question.user_id)

    moved = await search_row(pool, question.id)
    assert moved is not None
    assert moved["user_id"] == receiver.id

    await store.delete_session(pool, receiver.id, question.session_id)
    assert await search_row(pool, question.id) is None


def test_a_message_row_carries_no_search_vector() -> None:
    """The history read and the chat turn never ship a tsvector."""
    assert "search_vector" not in models.ChatMessage.__struct_fields__
    assert "search_vector" in models.ChatMessageSearch.__struct_fields__


async def test_a_message_cannot_have_a_row_of_another_user(pool: store.Pool) -> None:
    question = (await new_turn(pool, "mine alone")).user_message
    other = await store.create_anonymous_user(pool)
    await pool.execute("DELETE FROM chat_message_search WHERE message_id = $1", question.id)

    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await pool.execute(
            "INSERT INTO chat_message_search (message_id, user_id, search_vector)"
            " VALUES ($1, $2, to_tsvector('english', 'stolen words'))",
            question.id,
            other.id,
        )
