"""Messages through the store: gap-free order under concurrency, idempotent turns, ownership."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import asyncpg
import msgspec
import pytest

from generated import citations, messages
from service import store

pytestmark = pytest.mark.anyio


async def new_session(pool: store.Pool) -> tuple[uuid.UUID, uuid.UUID]:
    """A fresh anonymous user and a session of theirs: (user_id, session_id)."""
    user = await store.create_anonymous_user(pool)
    session = await store.create_session(pool, user.id, title="test")
    return user.id, session.id


async def message_count(pool: store.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM chat_messages")
    return count


async def last_seq(pool: store.Pool, session_id: uuid.UUID) -> int:
    value: int = await pool.fetchval("SELECT last_seq FROM chat_sessions WHERE id = $1", session_id)
    return value


async def test_fifty_concurrent_turns_get_sequence_numbers_1_to_100_read_back_in_order(
    pool: store.Pool,
) -> None:
    user_id, session_id = await new_session(pool)
    turns = await asyncio.gather(
        *(store.start_chat_turn(pool, user_id, session_id, content=f"m{i}") for i in range(50))
    )
    stored = [m for turn in turns for m in (turn.user_message, turn.assistant_message)]
    assert sorted(m.seq for m in stored) == list(range(1, 101))
    # Each turn holds two neighbours: the question, then its answer.
    assert all(t.assistant_message.seq == t.user_message.seq + 1 for t in turns)
    page = await store.list_messages(pool, user_id, session_id, limit=100)
    by_seq = {m.seq: m.id for m in stored}
    assert [m.id for m in page.messages] == [by_seq[seq] for seq in range(1, 101)]
    assert page.next_cursor is None
    assert await last_seq(pool, session_id) == 100


async def test_retries_racing_turns_store_each_turn_once_without_a_gap(
    pool: store.Pool,
) -> None:
    # Each turn is one statement that locks the session row first: racing retries of one
    # turn queue behind it, find it stored, and never advance the counter.
    user_id, session_id = await new_session(pool)
    turns = await asyncio.gather(
        *(
            store.start_chat_turn(
                pool, user_id, session_id, content=f"m{n % 4}", client_message_id=f"key-{n % 4}"
            )
            for n in range(24)
        ),
        *(store.start_chat_turn(pool, user_id, session_id, content="note") for _ in range(6)),
    )
    assert len({turn.user_message.id for turn in turns}) == 4 + 6
    assert sum(not turn.replayed for turn in turns) == 4 + 6
    page = await store.list_messages(pool, user_id, session_id, limit=100)
    assert [m.seq for m in page.messages] == list(range(1, 21))
    assert await last_seq(pool, session_id) == 20


async def test_a_retried_turn_returns_the_original_messages_and_inserts_nothing(
    pool: store.Pool,
) -> None:
    user_id, session_id = await new_session(pool)
    turn = await store.start_chat_turn(
        pool, user_id, session_id, content="What is RAG?", client_message_id="turn-1"
    )
    assert (turn.user_message.seq, turn.assistant_message.seq) == (1, 2)
    assert turn.assistant_message.status == "pending"
    assert turn.assistant_message.reply_to_id == turn.user_message.id
    before = await message_count(pool)

    retry = await store.start_chat_turn(
        pool, user_id, session_id, content="What is RAG?", client_message_id="turn-1"
    )
    assert retry == store.ChatTurn(turn.user_message, turn.assistant_message, replayed=True)
    assert await message_count(pool) == before

    answered = await store.complete_chat_turn(
        pool, user_id, turn.assistant_message.id, content="Retrieval, then generation."
    )
    late_retry = await store.start_chat_turn(
        pool, user_id, session_id, content="What is RAG?", client_message_id="turn-1"
    )
    assert late_retry.assistant_message == answered
    assert await message_count(pool) == before

    following = await store.start_chat_turn(pool, user_id, session_id, content="And then?")
    assert (following.user_message.seq, following.assistant_message.seq) == (3, 4)


async def test_retries_racing_the_original_turn_store_it_once(pool: store.Pool) -> None:
    user_id, session_id = await new_session(pool)
    turns = await asyncio.gather(
        *(
            store.start_chat_turn(
                pool, user_id, session_id, content="Hello?", client_message_id="racing"
            )
            for _ in range(8)
        )
    )
    assert [t.replayed for t in turns].count(False) == 1
    assert {(t.user_message.id, t.assistant_message.id) for t in turns} == {
        (turns[0].user_message.id, turns[0].assistant_message.id)
    }
    assert await message_count(pool) == 2
    assert await last_seq(pool, session_id) == 2


async def test_an_answer_completes_with_its_citations_or_fails_visibly(pool: store.Pool) -> None:
    user_id, session_id = await new_session(pool)
    document = await store.create_document(
        pool, user_id, checksum=bytes(32), title="Guide", source_url="https://example.org"
    )
    turn = await store.start_chat_turn(pool, user_id, session_id, content="Q1")
    used = [
        store.Citation(
            rank=1,
            document_id=document.document.id,
            point_id=uuid.uuid4(),
            score=0.9,
            document_title="Guide",
            document_url="https://example.org",
            snippet='a "quoted" snippet',
        ),
        store.Citation(rank=2, document_title="Gone", score=0.5),
    ]
    answered = await store.complete_chat_turn(
        pool,
        user_id,
        turn.assistant_message.id,
        content="A1",
        citations_used=used,
        confidence=0.8,
        token_count=12,
    )
    assert (answered.status, answered.content, answered.confidence) == ("complete", "A1", 0.8)
    assert answered.sources == msgspec.to_builtins(used)
    stored = await citations.list_message_citations(
        pool, message_ids=[answered.id], user_id=user_id
    )
    # The statement copies every field of sources into the citation rows.
    assert [
        store.Citation(
            rank=c.rank,
            document_id=c.document_id,
            chunk_id=c.chunk_id,
            point_id=c.point_id,
            score=c.score,
            document_title=c.document_title,
            document_url=c.document_url,
            snippet=c.snippet,
        )
        for c in stored
    ] == used

    failing = await store.start_chat_turn(pool, user_id, session_id, content="Q2")
    failed = await store.fail_chat_turn(
        pool, user_id, failing.assistant_message.id, error="model timed out", retryable=True
    )
    assert (failed.status, failed.error) == ("failed", "model timed out")
    history = await store.list_messages(pool, user_id, session_id, limit=10)
    assert [(m.role, m.status) for m in history.messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("user", "complete"),
        ("assistant", "failed"),
    ]
    with pytest.raises(store.Conflict):
        await store.complete_chat_turn(pool, user_id, failed.id, content="too late")
    with pytest.raises(store.NotFound):
        await store.fail_chat_turn(pool, user_id, uuid.uuid4(), error="x", retryable=False)


async def test_the_database_rejects_a_message_in_another_users_session(pool: store.Pool) -> None:
    owner_id, session_id = await new_session(pool)
    intruder = await store.create_anonymous_user(pool)
    with pytest.raises(store.NotFound):
        await store.start_chat_turn(
            pool, intruder.id, session_id, content="x", client_message_id="k"
        )
    raw = await messages.append_chat_turn(
        pool,
        session_id=session_id,
        user_id=intruder.id,
        content="x",
        metadata={},
        client_message_id=None,
    )
    assert raw == []
    assert await message_count(pool) == 0
    assert await last_seq(pool, session_id) == 0

    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await pool.execute(
            "INSERT INTO chat_messages (session_id, user_id, seq, role, content)"
            " VALUES ($1, $2, 1, 'user', 'x')",
            session_id,
            intruder.id,
        )

    turn = await store.start_chat_turn(pool, owner_id, session_id, content="mine")
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await pool.execute(
            "INSERT INTO message_citations (message_id, user_id, rank) VALUES ($1, $2, 1)",
            turn.assistant_message.id,
            intruder.id,
        )
    with pytest.raises(store.NotFound):
        await store.complete_chat_turn(
            pool, intruder.id, turn.assistant_message.id, content="not yours"
        )
    with pytest.raises(store.NotFound):
        await store.list_messages(pool, intruder.id, session_id, limit=10)


async def test_message_pages_join_up_oldest_first_without_duplicates(pool: store.Pool) -> None:
    user_id, session_id = await new_session(pool)
    now = datetime.datetime.now(datetime.UTC)
    await messages.copy_messages(
        pool,
        [
            messages.CopyMessagesParams(session_id, user_id, seq, "user", f"m{seq}", now)
            for seq in range(1, 46)
        ],
    )
    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        page = await store.list_messages(pool, user_id, session_id, limit=20, before=cursor)
        pages.append([m.seq for m in page.messages])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == [list(range(26, 46)), list(range(6, 26)), list(range(1, 6))]

    empty_user, empty_session = await new_session(pool)
    empty = await store.list_messages(pool, empty_user, empty_session, limit=20)
    assert empty == store.MessagePage([], None)
    for bad in ("not a cursor", "W10", "WzBd", "eyJhIjoxfQ"):  # [], [0], {"a":1}
        with pytest.raises(store.InvalidInput):
            await store.list_messages(pool, user_id, session_id, limit=20, before=bad)
    with pytest.raises(store.InvalidInput):
        await store.list_messages(pool, user_id, session_id, limit=0)


async def test_reading_an_answers_context_is_not_a_user_read(pool: store.Pool) -> None:
    user_id, session_id = await new_session(pool)
    turn = await store.start_chat_turn(pool, user_id, session_id, content="What is RAG?")
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    await pool.execute(
        "UPDATE chat_sessions SET last_accessed_at = $2 WHERE id = $1", session_id, long_ago
    )

    recent = await store.recent_messages(pool, user_id, session_id, limit=10)

    assert [m.id for m in recent] == [turn.assistant_message.id, turn.user_message.id]
    assert (await store.get_session(pool, user_id, session_id)).last_accessed_at == long_ago
    assert await store.recent_messages(pool, uuid.uuid4(), session_id, limit=10) == []
    await store.list_messages(pool, user_id, session_id, limit=10)  # the user reading
    assert (await store.get_session(pool, user_id, session_id)).last_accessed_at > long_ago
