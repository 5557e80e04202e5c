"""Documents: record an upload for ingestion (refusing at once what ingestion would refuse,
and what is over the user's upload quotas), and delete one from both stores."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import msgspec

from .. import store
from ..rag.extract import detect_format
from ..rag.fetch import FetchError, check_url
from ..rag.vectors import VectorStore
from ..settings import Settings
from .ingestion import Ingestor
from .limits import Limits

__all__ = ["Documents", "Upload", "UrlRefused"]

log = logging.getLogger("service.documents")


class Upload(msgspec.Struct, frozen=True, kw_only=True):
    """A document to ingest: ``content`` (a file or text) or a ``source_url`` to fetch."""

    content: bytes | None
    checksum: bytes  # sha256 of the content; of "url:" + the address for a URL
    title: str | None  # None: ingestion takes the title the content gives
    source_url: str | None = None
    filename: str | None = None
    content_type: str | None = None
    metadata: dict[str, Any] | None = None


class UrlRefused(Exception):
    """The URL would not be fetched (a private address, a scheme or host not allowed)."""


class Documents:
    def __init__(
        self,
        db: store.Pool,
        vectors: VectorStore,
        ingestor: Ingestor,
        settings: Settings,
        limits: Limits,
    ) -> None:
        self._db = db
        self._vectors = vectors
        self._ingestor = ingestor
        self._settings = settings
        self._limits = limits

    async def add(
        self, user_id: uuid.UUID, upload: Upload, *, request_id: str | None
    ) -> tuple[store.Document, bool]:
        """The document record, and whether it was queued for ingestion (False: the user
        already had this content, and that record is returned).

        Raises UnsupportedDocument for content of a type that cannot be read, UrlRefused
        for a URL that would not be fetched, and RateLimited when the user's uploads today
        (UPLOADS_PER_USER_PER_DAY, and UPLOAD_BYTES_PER_USER_PER_DAY of content; a URL's
        content is not known yet and counts no bytes) are used up, before anything is stored.
        An upload of content the user already has counts too.
        """
        if upload.content is not None:
            detect_format(upload.content, upload.content_type, upload.filename)
        if upload.source_url is not None:
            try:
                await check_url(
                    upload.source_url,
                    allow_hosts=self._settings.fetch_allowed_hosts(),
                    timeout_seconds=self._settings.fetch_timeout,
                )
            except FetchError as error:
                raise UrlRefused(str(error)) from error
        size = 0 if upload.content is None else len(upload.content)
        # Reading the upload and checking the URL came first: a budget of its own, a second
        # longer per MiB of content to store.
        with store.deadline(self._settings.db_request_budget + size / 2**20):
            await self._limits.upload(user_id, size)
            created = await store.create_document(
                self._db,
                user_id,
                checksum=upload.checksum,
                title=upload.title,
                source_url=upload.source_url,
                filename=upload.filename,
                content_type=upload.content_type,
                byte_size=None if upload.content is None else size,
                metadata=upload.metadata,
                content=upload.content,
                request_id=request_id,
            )
            document, queued = created.document, created.created
            if not queued and upload.source_url is not None:
                # The same URL again: its content may have changed, so fetch and ingest it anew
                # (the new chunks replace the old). Still in progress: nothing to do.
                requeued = await store.requeue_document(self._db, user_id, document.id)
                document, queued = requeued or document, requeued is not None
        if queued:
            self._ingestor.wake()
        return document, queued

    async def delete(
        self, user_id: uuid.UUID, document_id: uuid.UUID, *, request_id: str | None
    ) -> None:
        """Delete one of the user's documents: its rows, then its points."""
        await store.delete_document(self._db, user_id, document_id, request_id=request_id)
        try:
            # By payload: every point ingestion wrote for it, recorded in point_ids or not.
            await self._vectors.delete_document(document_id)
        except Exception:
            # The rows are gone, so no search result can be cited or resolved to them; the
            # points are removed on the next delete or re-ingestion of the same id.
            log.exception("could not delete the points of document %s", document_id)
