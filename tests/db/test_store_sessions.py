"""Sessions through the store: keyset pages, edits, cascading deletes, retention with audit."""

from __future__ import annotations

import base64
import datetime
import uuid

import pytest

from service import store
from tests.db.conftest import audit_entries

pytestmark = pytest.mark.anyio

OWNED_TABLES = (
    "chat_sessions",
    "chat_messages",
    "message_citations",
    "user_credentials",
    "documents",
    "document_chunks",
)


async def counts(pool: store.Pool) -> dict[str, int]:
    """Row counts of every user-owned table."""
    return {table: await pool.fetchval(f"SELECT count(*) FROM {table}") for table in OWNED_TABLES}


async def answered_turn(pool: store.Pool, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """A question and its answer citing one chunk: messages and a citation in the session."""
    turn = await store.start_chat_turn(pool, user_id, session_id, content="Q")
    await store.complete_chat_turn(
        pool,
        user_id,
        turn.assistant_message.id,
        content="A",
        citations_used=[store.Citation(rank=1, point_id=uuid.uuid4(), score=0.7)],
    )


async def test_session_pages_join_up_by_last_activity_without_duplicates(pool: store.Pool) -> None:
    user = await store.create_anonymous_user(pool)
    other = await store.create_anonymous_user(pool)
    created = [await store.create_session(pool, user.id, title=f"s{i}") for i in range(25)]
    await store.create_session(pool, other.id, title="not mine")
    for session in created[3:8]:  # activity moves these to the front
        await store.start_chat_turn(pool, user.id, session.id, content="bump")
    expected = [
        row["id"]
        for row in await pool.fetch(
            "SELECT id FROM chat_sessions WHERE user_id = $1"
            " ORDER BY last_activity_at DESC, id DESC",
            user.id,
        )
    ]
    assert expected[:5] == [s.id for s in reversed(created[3:8])]

    listed: list[uuid.UUID] = []
    cursor: str | None = None
    page_sizes = []
    while True:
        page = await store.list_sessions(pool, user.id, limit=10, cursor=cursor)
        listed += [s.id for s in page.sessions]
        page_sizes.append(len(page.sessions))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert listed == expected
    assert page_sizes == [10, 10, 5]


async def test_a_bad_session_cursor_is_invalid_input(pool: store.Pool) -> None:
    naive = base64.urlsafe_b64encode(b'["2026-01-01T00:00:00","%s"]' % str(uuid.uuid4()).encode())

    user = await store.create_anonymous_user(pool)
    for bad in ("%%%", "bm90IGpzb24", "WzEsMl0", naive.decode()):
        with pytest.raises(store.InvalidInput):
            await store.list_sessions(pool, user.id, limit=10, cursor=bad)


async def test_a_session_is_renamed_edited_and_deleted_only_by_its_owner(pool: store.Pool) -> None:
    user = await store.create_anonymous_user(pool)
    other = await store.create_anonymous_user(pool)
    session = await store.create_session(pool, user.id, title="draft", metadata={"a": 1})
    renamed = await store.update_session(pool, user.id, session.id, title="final")
    assert (renamed.title, renamed.metadata) == ("final", {"a": 1})
    edited = await store.update_session(pool, user.id, session.id, metadata={"b": [2]})
    assert (edited.title, edited.metadata) == ("final", {"b": [2]})
    assert edited.updated_at > session.updated_at
    with pytest.raises(store.InvalidInput):
        await store.update_session(pool, user.id, session.id, metadata=["not", "an object"])
    for attempt in (
        store.get_session(pool, other.id, session.id),
        store.update_session(pool, other.id, session.id, title="mine now"),
        store.delete_session(pool, other.id, session.id),
    ):
        with pytest.raises(store.NotFound):
            await attempt
    assert (await store.get_session(pool, user.id, session.id)).title == "final"

    await store.delete_session(pool, user.id, session.id, request_id="req-1")
    with pytest.raises(store.NotFound):
        await store.delete_session(pool, user.id, session.id)
    [entry] = await audit_entries(pool, "session.deleted")
    assert (entry.actor_user_id, entry.target_id, entry.request_id) == (
        user.id,
        str(session.id),
        "req-1",
    )


async def test_deleting_a_session_cascades_to_its_messages_and_citations(pool: store.Pool) -> None:
    user = await store.create_anonymous_user(pool)
    doomed = await store.create_session(pool, user.id)
    kept = await store.create_session(pool, user.id)
    await answered_turn(pool, user.id, doomed.id)
    await answered_turn(pool, user.id, kept.id)
    before = await counts(pool)
    await store.delete_session(pool, user.id, doomed.id)
    after = await counts(pool)
    assert before["chat_messages"] == 4
    assert before["message_citations"] == 2
    assert after["chat_sessions"] == before["chat_sessions"] - 1
    assert after["chat_messages"] == 2
    assert after["message_citations"] == 1


async def test_deleting_a_user_cascades_to_everything_they_own(pool: store.Pool) -> None:
    users = [await store.create_anonymous_user(pool) for _ in range(2)]
    for index, user in enumerate(users):
        session = await store.create_session(pool, user.id)
        await answered_turn(pool, user.id, session.id)
        await store.issue_credential(pool, user.id, ttl=datetime.timedelta(days=1))
        created = await store.create_document(
            pool, user.id, checksum=bytes([index]) * 32, filename="notes.txt"
        )
        await store.start_document(pool, created.document.id, worker="w")
        await store.complete_document(
            pool,
            created.document.id,
            worker="w",
            document_chunks=[store.Chunk(chunk_index=0, point_id=uuid.uuid4(), content="c")],
            embedding_model="m",
            collection="c",
        )
    before = await counts(pool)
    assert all(count == 2 or table == "chat_messages" for table, count in before.items())

    await store.erase_user(pool, users[0].id, rate_limit_buckets=(), request_id="gdpr")
    after = await counts(pool)
    assert after == {table: count // 2 for table, count in before.items()}
    [entry] = await audit_entries(pool, "user.deleted")
    assert (entry.target_id, entry.request_id) == (str(users[0].id), "gdpr")
    with pytest.raises(store.NotFound):
        await store.erase_user(pool, users[0].id, rate_limit_buckets=())


async def test_retention_dry_run_changes_nothing_and_purge_deletes_exactly_those(
    pool: store.Pool,
) -> None:
    user = await store.create_anonymous_user(pool)
    sessions = [await store.create_session(pool, user.id, title=f"s{i}") for i in range(7)]
    for session in sessions:
        await answered_turn(pool, user.id, session.id)
    stale = sessions[:4]
    await pool.execute(
        "UPDATE chat_sessions SET last_activity_at = now() - interval '400 days'"
        " WHERE id = ANY($1::uuid[])",
        [s.id for s in stale],
    )
    cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=365)
    before = await counts(pool)

    first = await store.list_inactive_sessions(pool, cutoff=cutoff, limit=3)
    rest = await store.list_inactive_sessions(pool, cutoff=cutoff, after=first[-1], limit=3)
    listed = first + rest
    assert sorted(s.id for s in listed) == sorted(s.id for s in stale)
    assert all((s.user_id, s.message_count) == (user.id, 2) for s in listed)
    counted = await store.count_inactive_sessions(pool, cutoff=cutoff)
    assert (counted.sessions, counted.messages) == (4, 8)
    assert await counts(pool) == before

    purged = await store.purge_inactive_sessions(
        pool, cutoff=cutoff, request_id="nightly", batch_size=3
    )
    assert purged == counted
    after = await counts(pool)
    assert after["chat_sessions"] == 3
    assert after["chat_messages"] == before["chat_messages"] - 8
    assert after["message_citations"] == before["message_citations"] - 4
    remaining = await store.list_sessions(pool, user.id, limit=10)
    assert {s.id for s in remaining.sessions} == {s.id for s in sessions[4:]}

    # One audit row per batch, with its counts: 3 sessions, then 1.
    entries = await audit_entries(pool, "retention.purged")
    recorded = [e.details for e in entries]
    assert len(recorded) == 2
    for n in (3, 1):
        assert {"cutoff": cutoff.isoformat(), "sessions": n, "messages": 2 * n} in recorded
    assert {(e.actor_user_id, e.request_id, e.target_type) for e in entries} == {
        (None, "nightly", "chat_sessions")
    }
    assert await store.purge_inactive_sessions(pool, cutoff=cutoff) == store.PurgedSessions(0, 0)
