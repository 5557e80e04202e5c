"""Ingestion: a document row becomes chunks in PostgreSQL and points in Qdrant, as a durable job.

Jobs live in the documents table. A worker claims one (``FOR UPDATE SKIP LOCKED``, so
replicas share the queue; a claim older than INGEST_STALE_SECONDS is taken over, so a
crashed worker's job resumes), reads the upload or fetches the URL, extracts, chunks and
embeds, writes the points, and only then completes the document with its chunk rows. Any
failure removes the document's points and records the error.

The worker shares its process with serving: extraction and chunking run in a thread, and
the points are made and written POINT_BATCH at a time (their BM25 vectors in a thread), so
the event loop is never held for long, and few of a large document's points exist at once
(a full garbage collection, which holds the GIL, scans every one of them).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import socket
import uuid
from typing import Any

import msgspec

from .. import store
from ..rag.chunking import chunk_text
from ..rag.extract import UnsupportedDocument, extract_text, page_of
from ..rag.fetch import FetchError, fetch_url
from ..rag.providers import Embeddings, ProviderError
from ..rag.sparse import Lexical
from ..rag.vectors import ChunkPoint, VectorStore, owner_key
from ..settings import Settings

__all__ = ["IngestionError", "Ingestor", "Prepared", "worker_name"]

log = logging.getLogger("service.ingest")

# Point ids are derived from the document and chunk index, so a retried job overwrites
# its own earlier points instead of leaving strays.
_POINTS = uuid.UUID("0f9b6f0e-2f3c-4a8e-b0e6-7f5d2c1a9e44")
# Chunks whose points are made (about 40 ms of BM25 in a thread) and written in one step.
POINT_BATCH = 256


class IngestionError(Exception):
    """The document cannot be ingested as it is; the message is stored as its error."""


# What a document's record says of a failure it did not cause (the vector store down, a bug):
# the exception, possibly with a client's or a server's own text, is in the log.
INTERNAL_FAILURE = "the document could not be indexed (the vector store or the service failed)"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def point_id(document_id: uuid.UUID, chunk_index: int) -> uuid.UUID:
    return uuid.uuid5(_POINTS, f"{document_id}:{chunk_index}")


class Prepared(msgspec.Struct, frozen=True, kw_only=True):
    """A document read and chunked, nothing written yet: its chunk rows, each chunk's heading
    and page, what every point's payload holds besides, and the title found in its content."""

    chunks: list[store.Chunk]
    headings: list[str | None]
    pages: list[int | None]
    payload: dict[str, Any]
    title: str | None


class Ingestor:
    """Runs ingestion jobs against one database, one collection and the configured embedders."""

    def __init__(
        self,
        db: store.Pool,
        vectors: VectorStore,
        settings: Settings,
        *,
        lexical: Lexical,
        dense: Embeddings | None = None,
        worker: str | None = None,
    ) -> None:
        self.db = db
        self.vectors = vectors
        self.settings = settings
        self.lexical = lexical
        self.dense = dense
        self.worker = worker_name() if worker is None else worker
        self._wake = asyncio.Event()

    @property
    def embedding_model(self) -> str:
        sparse = self.lexical.name
        return sparse if self.dense is None else f"{sparse}+{self.dense.model}"

    def wake(self) -> None:
        """New work was queued: stop waiting for the next poll."""
        self._wake.set()

    async def run_once(self) -> store.Document | None:
        """Claim and ingest one document; None when there was nothing to do."""
        document = await store.claim_document(
            self.db,
            worker=self.worker,
            stale_after=datetime.timedelta(seconds=self.settings.ingest_stale_seconds),
            max_attempts=self.settings.ingest_max_attempts,
        )
        if document is None:
            return None
        return await self.ingest(document)

    async def run_forever(self) -> None:
        """The worker loop of the service process: drain the queue, then wait for work."""
        while True:
            try:
                while await self.run_once() is not None:
                    pass
            except store.UNAVAILABLE as error:
                log.warning("ingestion paused, database unavailable: %s", type(error).__name__)
            except Exception:
                log.exception("ingestion worker error")
            self._wake.clear()
            try:
                async with asyncio.timeout(self.settings.ingest_poll_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def ingest(self, document: store.Document) -> store.Document:
        """Ingest a document this worker has claimed: completed, or failed with the error."""
        try:
            prepared = await self.prepare(document)
            # A retry may find fewer chunks than the attempt before: clear the old points.
            await self.vectors.delete_document(document.id)
            await self.write_points(prepared, self.vectors)
        except (IngestionError, UnsupportedDocument, FetchError) as error:
            return await self._fail(document, str(error))  # about the document, in our words
        except ProviderError as error:
            # The provider's own text (it may echo the request) is for the log, not the user.
            log.warning("ingestion of %s failed: %s", document.id, error)
            return await self._fail(document, "the embedding model was unavailable")
        except Exception:
            log.exception("ingestion of %s failed", document.id)
            return await self._fail(document, INTERNAL_FAILURE)
        try:
            completed = await store.complete_document(
                self.db,
                document.id,
                worker=self.worker,
                document_chunks=prepared.chunks,
                embedding_model=self.embedding_model,
                collection=self.vectors.collection,
                found_title=prepared.title,
            )
        except BaseException:
            await self._remove_points(document.id)
            raise
        log.info(
            "document ingested",
            extra={"document_id": str(document.id), "chunk_count": len(prepared.chunks)},
        )
        return completed

    async def rebuild(self, document: store.Document, target: VectorStore) -> store.Document | None:
        """Rebuild a completed document's chunks and vectors into ``target`` (reindex).

        None when the document stopped being completed meanwhile (its rows are left alone).
        """
        prepared = await self.prepare(document)
        await self.write_points(prepared, target)
        return await store.reindex_document(
            self.db,
            document.id,
            document_chunks=prepared.chunks,
            embedding_model=self.embedding_model,
            collection=target.collection,
            found_title=prepared.title,
        )

    async def prepare(self, document: store.Document) -> Prepared:
        """Read, extract and chunk a document; nothing is written."""
        content, content_type = await self._content(document)
        # Extraction and chunking are CPU work: a thread keeps the event loop serving.
        return await asyncio.to_thread(self._prepare, document, content, content_type)

    async def write_points(self, prepared: Prepared, target: VectorStore) -> None:
        """Embed the document's chunks and write their points, POINT_BATCH at a time."""
        for start in range(0, len(prepared.chunks), POINT_BATCH):
            stop = start + POINT_BATCH
            points = await asyncio.to_thread(self._points, prepared, start, stop)
            if self.dense is not None:
                dense = await self.dense.embed([row.content for row in prepared.chunks[start:stop]])
                points = [
                    msgspec.structs.replace(point, dense=vector)
                    for point, vector in zip(points, dense, strict=True)
                ]
            await target.upsert(points)

    def _prepare(
        self, document: store.Document, content: bytes, content_type: str | None
    ) -> Prepared:
        extracted = extract_text(content, content_type=content_type, filename=document.filename)
        chunks = chunk_text(
            extracted.text,
            target_chars=self.settings.chunk_target_chars,
            overlap_chars=self.settings.chunk_overlap_chars,
        )
        if not chunks:
            raise IngestionError("the document contains no text")
        title = document.title or extracted.title or document.filename or document.source_url
        rows = [
            store.Chunk(
                chunk_index=chunk.index,
                point_id=point_id(document.id, chunk.index),
                content=chunk.text,
                char_start=chunk.char_start,
                char_end=chunk.char_end,
            )
            for chunk in chunks
        ]
        return Prepared(
            chunks=rows,
            headings=[chunk.heading for chunk in chunks],
            pages=[page_of(extracted.page_starts, chunk.char_start) for chunk in chunks],
            payload={
                "owner": owner_key(document.owner_id),
                "document_id": str(document.id),
                "title": title,
                "url": document.source_url,
            },
            title=extracted.title,
        )

    def _points(self, prepared: Prepared, start: int, stop: int) -> list[ChunkPoint]:
        """The points of chunks [start, stop), with their BM25 vectors (CPU work)."""
        return [
            ChunkPoint(
                point_id=row.point_id,
                sparse=self.lexical.document(row.content),
                dense=None,
                payload=prepared.payload
                | {
                    "chunk_index": row.chunk_index,
                    "heading": heading,
                    "page": page,
                    "text": row.content,
                },
            )
            for row, heading, page in zip(
                prepared.chunks[start:stop],
                prepared.headings[start:stop],
                prepared.pages[start:stop],
                strict=True,
            )
        ]

    async def _content(self, document: store.Document) -> tuple[bytes, str | None]:
        source = await store.get_document_content(self.db, document.id)
        if source is not None:
            return source, document.content_type
        if document.source_url is None:
            raise IngestionError("the document has neither content nor a URL")
        fetched = await fetch_url(
            document.source_url,
            timeout_seconds=self.settings.fetch_timeout,
            max_bytes=self.settings.fetch_max_bytes,
            allow_hosts=self.settings.fetch_allowed_hosts(),
        )
        return fetched.content, fetched.content_type

    async def _remove_points(self, document_id: uuid.UUID) -> None:
        try:
            await self.vectors.delete_document(document_id)
        except Exception:
            log.exception("could not remove the points of %s", document_id)

    async def _fail(self, document: store.Document, error: str) -> store.Document:
        await self._remove_points(document.id)
        log.warning("document failed", extra={"document_id": str(document.id), "error": error})
        return await store.fail_document(self.db, document.id, worker=self.worker, error=error)


def describe(document: store.Document) -> str:
    """One line for progress output."""
    name = document.title or document.filename or document.source_url or str(document.id)
    detail = f" ({document.error})" if document.error else ""
    return f"{document.status:<9} {name}{detail}"
