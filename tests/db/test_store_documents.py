"""Documents and credentials through the store: ingestion steps, dedupe, tokens, audit rows."""

from __future__ import annotations

import datetime
import hashlib
import uuid

import pytest

from generated import chunks
from service import store
from tests.db.conftest import audit_entries

pytestmark = pytest.mark.anyio

DAY = datetime.timedelta(days=1)


async def test_a_document_goes_through_its_ingestion_steps(pool: store.Pool) -> None:
    checksum = hashlib.sha256(b"the content").digest()
    point_ids = [uuid.uuid4() for _ in range(3)]
    pieces = [
        store.Chunk(chunk_index=i, point_id=p, content=f"chunk {i}", char_start=10 * i)
        for i, p in enumerate(point_ids)
    ]

    user = await store.create_anonymous_user(pool)
    created = await store.create_document(pool, user.id, checksum=checksum, filename="a.txt")
    again = await store.create_document(pool, user.id, checksum=checksum, filename="b.txt")
    shared = await store.create_document(pool, None, checksum=checksum, title="Shared")
    assert created.created
    assert again == store.DocumentCreated(created.document, created=False)
    assert shared.created
    assert shared.document.owner_id is None

    document_id = created.document.id
    processing = await store.start_document(pool, document_id, worker="w1")
    assert (processing.status, processing.claimed_by, processing.attempts) == (
        "processing",
        "w1",
        1,
    )
    with pytest.raises(store.Conflict):
        await store.start_document(pool, document_id, worker="w2")
    with pytest.raises(store.Conflict):  # only the claiming worker completes it
        await store.complete_document(
            pool,
            document_id,
            worker="w2",
            document_chunks=pieces,
            embedding_model="m",
            collection="docs",
        )
    completed = await store.complete_document(
        pool,
        document_id,
        worker="w1",
        document_chunks=pieces,
        embedding_model="m",
        collection="docs",
    )
    assert (completed.status, completed.chunk_count, completed.collection) == (
        "completed",
        3,
        "docs",
    )
    stored = await chunks.list_document_chunks(pool, document_id=document_id, user_id=user.id)
    assert [(c.point_id, c.owner_id) for c in stored] == [(p, user.id) for p in point_ids]

    claimed = await store.claim_document(
        pool, worker="w3", stale_after=datetime.timedelta(minutes=5), max_attempts=3
    )
    assert claimed is not None
    assert claimed.id == shared.document.id
    failed = await store.fail_document(pool, claimed.id, worker="w3", error="unreadable")
    assert (failed.status, failed.error) == ("failed", "unreadable")
    assert (
        await store.claim_document(
            pool, worker="w3", stale_after=datetime.timedelta(minutes=5), max_attempts=3
        )
        is None
    )

    other = await store.create_anonymous_user(pool)
    with pytest.raises(store.NotFound):
        await store.delete_document(pool, other.id, document_id)
    await store.delete_document(pool, user.id, document_id, request_id="r")
    assert await pool.fetchval("SELECT count(*) FROM document_chunks") == 0
    with pytest.raises(store.NotFound):
        await store.delete_document(pool, user.id, document_id)

    [ingested] = await audit_entries(pool, "document.ingested")
    assert (ingested.actor_user_id, ingested.target_id) == (user.id, str(document_id))
    [failure] = await audit_entries(pool, "document.failed")
    assert (failure.actor_user_id, failure.target_id) == (None, str(shared.document.id))
    [deletion] = await audit_entries(pool, "document.deleted")
    assert (deletion.actor_user_id, deletion.request_id) == (user.id, "r")
    assert deletion.details == {"chunk_count": len(point_ids)}


async def test_a_retried_ingestion_replaces_the_chunks_of_the_failed_attempt(
    pool: store.Pool,
) -> None:
    created = await store.create_document(pool, None, checksum=bytes(32), title="t")
    document_id = created.document.id
    for attempt in range(2):
        await pool.execute(
            "UPDATE documents SET status = 'pending', error = NULL WHERE id = $1", document_id
        )
        await store.start_document(pool, document_id, worker="w")
        piece = store.Chunk(chunk_index=0, point_id=uuid.uuid4(), content=f"try {attempt}")
        await store.complete_document(
            pool,
            document_id,
            worker="w",
            document_chunks=[piece],
            embedding_model="m",
            collection="c",
        )
    assert await pool.fetchval("SELECT array_agg(content) FROM document_chunks") == ["try 1"]


async def test_credentials_are_issued_looked_up_and_revoked_by_hash_only(pool: store.Pool) -> None:
    user = await store.create_anonymous_user(pool)
    other = await store.create_anonymous_user(pool)
    issued = await store.issue_credential(pool, user.id, ttl=DAY, request_id="login")
    assert len(issued.token) >= 40
    assert issued.credential.token_hash == hashlib.sha256(issued.token.encode()).digest()
    stored_tokens = await pool.fetchval(
        "SELECT count(*) FROM user_credentials WHERE position($1::bytea IN token_hash) > 0",
        issued.token.encode(),
    )
    assert stored_tokens == 0

    found = await store.lookup_credential(pool, issued.token)
    assert found is not None
    assert (found.id, found.user_id) == (issued.credential.id, user.id)
    assert await store.lookup_credential(pool, issued.token + "x") is None

    with pytest.raises(store.NotFound):
        await store.revoke_credential(pool, other.id, issued.credential.id)
    await store.revoke_credential(pool, user.id, issued.credential.id, request_id="logout")
    assert await store.lookup_credential(pool, issued.token) is None
    with pytest.raises(store.NotFound):
        await store.revoke_credential(pool, user.id, issued.credential.id)

    with pytest.raises(store.InvalidInput):  # already expired: breaks expires_at > created_at
        await store.issue_credential(pool, user.id, ttl=-DAY)
    with pytest.raises(store.NotFound):
        await store.issue_credential(pool, uuid.uuid4(), ttl=DAY)

    [issued_entry] = await audit_entries(pool, "token.issued")
    [revoked_entry] = await audit_entries(pool, "token.revoked")
    assert (issued_entry.actor_user_id, issued_entry.request_id) == (user.id, "login")
    assert (revoked_entry.target_id, revoked_entry.request_id) == (
        str(issued.credential.id),
        "logout",
    )


async def test_a_lookup_records_the_use_at_most_once_a_minute_and_expired_tokens_fail(
    pool: store.Pool,
) -> None:
    user = await store.create_anonymous_user(pool)
    issued = await store.issue_credential(pool, user.id, ttl=DAY)
    last_used = "SELECT last_used_at FROM user_credentials WHERE id = $1"
    assert await pool.fetchval(last_used, issued.credential.id) is None

    await store.lookup_credential(pool, issued.token)
    first_use = await pool.fetchval(last_used, issued.credential.id)
    assert first_use is not None
    await store.lookup_credential(pool, issued.token)
    assert await pool.fetchval(last_used, issued.credential.id) == first_use

    await pool.execute(
        "UPDATE user_credentials SET last_used_at = now() - interval '2 minutes' WHERE id = $1",
        issued.credential.id,
    )
    stale = await pool.fetchval(last_used, issued.credential.id)
    await store.lookup_credential(pool, issued.token)
    assert await pool.fetchval(last_used, issued.credential.id) > stale

    await pool.execute(
        "UPDATE user_credentials SET created_at = now() - interval '2 days',"
        " expires_at = now() - interval '1 second' WHERE id = $1",
        issued.credential.id,
    )
    assert await store.lookup_credential(pool, issued.token) is None
