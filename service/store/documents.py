"""Documents: record an upload (deduplicated), then the ingestion steps, then deletion."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Annotated

import msgspec

from generated import audit, chunks, documents, models
from generated.db import JsonInput

from .cursors import decode_cursor, encode_cursor
from .errors import Conflict, InvalidInput, NotFound
from .tx import ATTEMPTS, Connection, Db, exec_statement, exec_tx

__all__ = [
    "Chunk",
    "DocumentCreated",
    "DocumentPage",
    "claim_document",
    "complete_document",
    "count_stale_documents",
    "create_document",
    "delete_document",
    "document_statuses",
    "fail_document",
    "get_document",
    "get_document_content",
    "get_document_for_worker",
    "list_completed_documents",
    "list_documents",
    "readable_chunk_ids",
    "reindex_document",
    "requeue_document",
    "start_document",
]


class DocumentCreated(msgspec.Struct, frozen=True):
    document: models.Document
    created: bool  # False: this owner already had this content, and that document is returned


class DocumentPage(msgspec.Struct, frozen=True):
    documents: list[models.Document]  # newest first
    next_cursor: str | None  # None on the last page


class _DocumentPosition(msgspec.Struct, frozen=True, array_like=True):
    created_at: Annotated[datetime.datetime, msgspec.Meta(tz=True)]
    id: uuid.UUID


COPY_BATCH = 500  # chunk rows per COPY (with 1,200-character chunks, about 600 kB)


class Chunk(msgspec.Struct, frozen=True, kw_only=True):
    chunk_index: int
    point_id: uuid.UUID  # the chunk's vector in Qdrant
    content: str
    char_start: int | None = None
    char_end: int | None = None
    token_count: int | None = None


async def create_document(
    db: Db,
    user_id: uuid.UUID | None,
    *,
    checksum: bytes,
    title: str | None = None,
    source_url: str | None = None,
    filename: str | None = None,
    content_type: str | None = None,
    byte_size: int | None = None,
    metadata: JsonInput | None = None,
    content: bytes | None = None,
    request_id: str | None = None,
) -> DocumentCreated:
    """Record a document to ingest, owned by user_id (None: the shared corpus), once per content.

    ``content`` (an upload) is kept beside the record for the ingestion worker, in the same
    transaction. Identical content for the same owner returns the existing document.
    """
    params = documents.CreateDocumentParams(
        checksum=checksum,
        user_id=user_id,
        title=title,
        source_url=source_url,
        filename=filename,
        content_type=content_type,
        byte_size=byte_size,
        metadata=metadata,
    )

    async def work(conn: Connection) -> DocumentCreated:
        created = await documents.create_document(conn, params)
        if created is not None:
            if content is not None:
                await documents.create_document_source(
                    conn, content=content, document_id=created.id, user_id=user_id
                )
            await _audit(conn, "document.created", created, request_id=request_id)
            return DocumentCreated(created, created=True)
        existing = await documents.get_document_by_checksum(
            conn, checksum=checksum, user_id=user_id
        )
        if existing is None:  # the conflicting row was deleted in between: the caller may retry
            raise Conflict("document was deleted while being created")
        return DocumentCreated(existing, created=False)

    return await exec_tx(db, work)


async def get_document(db: Db, user_id: uuid.UUID, document_id: uuid.UUID) -> models.Document:
    """One of the user's documents or a shared one (NotFound for anyone else's)."""
    found = await exec_statement(
        db, lambda conn: documents.get_document(conn, document_id=document_id, user_id=user_id)
    )
    if found is None:
        raise NotFound("document not found")
    return found


async def list_documents(
    db: Db, user_id: uuid.UUID, *, shared: bool = False, limit: int, cursor: str | None = None
) -> DocumentPage:
    """A page of the user's own documents (or of the shared corpus), newest first."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    after = None if cursor is None else decode_cursor(cursor, _DocumentPosition)
    before_created = None if after is None else after.created_at
    before_id = None if after is None else after.id

    async def work(conn: Connection) -> list[models.Document]:
        if shared:
            return await documents.list_shared_documents(
                conn, limit=limit + 1, before_created=before_created, before_id=before_id
            )
        return await documents.list_documents(
            conn,
            user_id=user_id,
            limit=limit + 1,  # one more row tells whether there is a next page
            before_created=before_created,
            before_id=before_id,
        )

    rows = await exec_statement(db, work)
    page, next_cursor = rows[:limit], None
    if len(rows) > limit:
        next_cursor = encode_cursor(_DocumentPosition(page[-1].created_at, page[-1].id))
    return DocumentPage(page, next_cursor)


async def claim_document(
    db: Db, *, worker: str, stale_after: datetime.timedelta, max_attempts: int
) -> models.Document | None:
    """Claim the oldest pending document (or a stale claim) for ``worker``; None when idle.

    Stale claims that used up ``max_attempts`` are failed first (audited), never retried.
    """
    stale_before = datetime.datetime.now(datetime.UTC) - stale_after

    async def work(conn: Connection) -> models.Document | None:
        abandoned = await documents.fail_abandoned_documents_for_worker(
            conn, stale_before=stale_before, max_attempts=max_attempts
        )
        for document in abandoned:
            await _audit(
                conn, "document.failed", document, worker=worker, error=document.error or ""
            )
        return await documents.claim_document_for_worker(
            conn, claimed_by=worker, stale_before=stale_before, max_attempts=max_attempts
        )

    return await exec_tx(db, work)


async def requeue_document(
    db: Db, user_id: uuid.UUID | None, document_id: uuid.UUID
) -> models.Document | None:
    """Queue a completed or failed document again; None when it is pending or processing."""
    return await exec_statement(
        db,
        lambda conn: documents.requeue_document(conn, document_id=document_id, user_id=user_id),
    )


async def start_document(db: Db, document_id: uuid.UUID, *, worker: str) -> models.Document:
    """Claim one specific pending document (ingestion right after upload)."""
    started = await exec_statement(
        db,
        lambda conn: documents.mark_document_processing_for_worker(
            conn, claimed_by=worker, document_id=document_id
        ),
    )
    if started is None:
        raise Conflict("document is not pending (or no longer exists)")
    return started


async def complete_document(
    db: Db,
    document_id: uuid.UUID,
    *,
    worker: str,
    document_chunks: Sequence[Chunk],
    embedding_model: str,
    collection: str,
    found_title: str | None = None,
) -> models.Document:
    """Store the chunks (replacing a failed attempt's) and complete the worker's claim, audited.

    An untitled document takes ``found_title`` (the title its content gives).
    """

    async def work(conn: Connection) -> models.Document:
        completed = await documents.mark_document_completed_for_worker(
            conn,
            chunk_count=len(document_chunks),
            embedding_model=embedding_model,
            collection=collection,
            document_id=document_id,
            claimed_by=worker,
            found_title=found_title,
        )
        if completed is None:
            raise Conflict("the claim on this document was lost")
        await chunks.delete_document_chunks_for_worker(conn, document_id=document_id)
        await _copy_chunks(conn, document_id, document_chunks)
        await _audit(
            conn, "document.ingested", completed, worker=worker, chunk_count=len(document_chunks)
        )
        return completed

    return await exec_tx(db, work)


async def reindex_document(
    db: Db,
    document_id: uuid.UUID,
    *,
    document_chunks: Sequence[Chunk],
    embedding_model: str,
    collection: str,
    found_title: str | None = None,
) -> models.Document | None:
    """Replace a completed document's chunks with rebuilt ones; None when it is no longer
    completed (deleted, or being ingested again), and then nothing is written."""

    async def work(conn: Connection) -> models.Document | None:
        reindexed = await documents.reindex_document_for_worker(
            conn,
            chunk_count=len(document_chunks),
            embedding_model=embedding_model,
            collection=collection,
            document_id=document_id,
            found_title=found_title,
        )
        if reindexed is not None:
            await chunks.delete_document_chunks_for_worker(conn, document_id=document_id)
            await _copy_chunks(conn, document_id, document_chunks)
        return reindexed

    return await exec_tx(db, work)


async def list_completed_documents(
    db: Db, *, after_id: uuid.UUID, page_size: int
) -> list[models.Document]:
    """Completed documents of every owner in id order, after ``after_id`` (reindex)."""
    return await exec_statement(
        db,
        lambda conn: documents.list_completed_documents_for_worker(
            conn, after_id=after_id, page_size=page_size
        ),
    )


async def count_stale_documents(db: Db, *, embedding_model: str, collection: str) -> int:
    """Completed documents whose vectors were made with another model or in another collection."""
    return await exec_statement(
        db,
        lambda conn: documents.count_stale_documents_for_worker(
            conn, embedding_model=embedding_model, collection=collection
        ),
    )


async def get_document_content(db: Db, document_id: uuid.UUID) -> bytes | None:
    """The uploaded bytes of a document (None for a URL document), for the worker."""
    return await exec_statement(
        db,
        lambda conn: documents.get_document_source_for_worker(conn, document_id=document_id),
    )


async def get_document_for_worker(db: Db, document_id: uuid.UUID) -> models.Document | None:
    """Any owner's document by id (command-line tools and workers), None when absent."""
    return await exec_statement(
        db, lambda conn: documents.get_document_for_worker(conn, document_id=document_id)
    )


async def document_statuses(
    db: Db, document_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str | None]]:
    """id -> (status, error) of the given documents, of any owner (progress of queued work)."""
    rows = await exec_statement(
        db,
        lambda conn: documents.list_document_statuses_for_worker(
            conn, document_ids=list(document_ids)
        ),
    )
    return {row.id: (row.status, row.error) for row in rows}


async def _copy_chunks(
    conn: Connection, document_id: uuid.UUID, document_chunks: Sequence[Chunk]
) -> None:
    """COPY the chunk rows in batches. Their records are made and encoded on the event loop,
    mostly in one step (the driver yields only while the socket is full): the longest step
    measured 25 to 70 ms for a 10 MB document's rows in one COPY, 11 to 18 ms in batches."""
    for start in range(0, len(document_chunks), COPY_BATCH):
        batch = document_chunks[start : start + COPY_BATCH]
        await chunks.copy_document_chunks(
            conn,
            [
                chunks.CopyDocumentChunksParams(document_id, *msgspec.structs.astuple(chunk))
                for chunk in batch
            ],
        )


async def fail_document(
    db: Db, document_id: uuid.UUID, *, worker: str, error: str
) -> models.Document:
    """Record why ingestion failed (the document stays, with the error, without chunks), audited."""

    async def work(conn: Connection) -> models.Document:
        failed = await documents.mark_document_failed_for_worker(
            conn, error=error, document_id=document_id, claimed_by=worker
        )
        if failed is None:
            raise Conflict("the claim on this document was lost")
        # A failed re-ingestion removed the old points: their chunk rows go too.
        await chunks.delete_document_chunks_for_worker(conn, document_id=document_id)
        await _audit(conn, "document.failed", failed, worker=worker, error=error)
        return failed

    return await exec_tx(db, work)


async def delete_document(
    db: Db, user_id: uuid.UUID, document_id: uuid.UUID, *, request_id: str | None = None
) -> None:
    """Delete one of the user's documents with its chunks (its vectors are the caller's job)."""

    async def work(conn: Connection) -> None:
        chunk_count = await documents.delete_document(
            conn, document_id=document_id, user_id=user_id
        )
        if chunk_count is None:
            raise NotFound("document not found")
        await audit.create_audit_entry(
            conn,
            action="document.deleted",
            actor_user_id=user_id,
            target_type="document",
            target_id=str(document_id),
            request_id=request_id,
            details={"chunk_count": chunk_count},
        )

    await exec_tx(db, work)


async def readable_chunk_ids(
    db: Db, user_id: uuid.UUID, point_ids: list[uuid.UUID], *, attempts: int = ATTEMPTS
) -> dict[uuid.UUID, uuid.UUID]:
    """point id -> chunk id, for the points whose chunks the user may read."""
    rows = await exec_statement(
        db,
        lambda conn: chunks.list_chunks_by_point_ids(conn, point_ids=point_ids, user_id=user_id),
        attempts=attempts,
    )
    return {row.point_id: row.id for row in rows}


async def _audit(
    conn: Connection,
    action: str,
    document: models.Document,
    *,
    request_id: str | None = None,
    **details: str | int,
) -> None:
    await audit.create_audit_entry(
        conn,
        action=action,
        actor_user_id=document.owner_id,
        target_type="document",
        target_id=str(document.id),
        request_id=request_id,
        details=details,
    )
