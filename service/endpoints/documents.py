"""Documents: record an upload (file, text or URL) for ingestion, list, read, delete.

POST answers 202 with the pending record (200 with the existing record when the caller
already has identical content); ingestion moves it through processing to completed or
failed.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from typing import Any
from urllib.parse import urlsplit

import msgspec
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from .. import store
from ..errors import ApiError
from ..identity import require_user
from ..json import json_response
from ..rag.extract import UnsupportedDocument, detect_format
from ..rag.fetch import FetchError, check_url
from ..rag.vectors import VectorStore
from ..schemas import DocumentCreate, DocumentList, DocumentsQuery, Title, document_out
from ..settings import Settings
from ..validation import (
    decode_json,
    decode_query,
    invalid,
    named_cursor,
    page_size,
    path_uuid,
    reject_nul,
)

log = logging.getLogger("service.documents")

__all__ = ["create_document", "delete_document", "get_document", "list_documents"]

_FORM_FIELDS = {"file", "title", "metadata"}


class _Upload(msgspec.Struct, frozen=True, kw_only=True):
    content: bytes | None
    checksum: bytes
    title: str | None
    source_url: str | None = None
    filename: str | None = None
    content_type: str | None = None
    metadata: dict[str, Any] | None = None


async def create_document(request: Request) -> Response:
    principal = await require_user(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        upload = await _from_form(request)
    else:
        upload = _from_json(await decode_json(request, DocumentCreate))
    await _refuse_now(upload, request.state.settings)
    created = await store.create_document(
        request.state.db,
        principal.user_id,
        checksum=upload.checksum,
        title=upload.title,
        source_url=upload.source_url,
        filename=upload.filename,
        content_type=upload.content_type,
        byte_size=None if upload.content is None else len(upload.content),
        metadata=upload.metadata,
        content=upload.content,
        request_id=request.state.request_id,
    )
    document, queued = created.document, created.created
    if not queued and upload.source_url is not None:
        # The same URL again: its content may have changed, so fetch and ingest it anew
        # (the new chunks replace the old). Still in progress: nothing to do.
        requeued = await store.requeue_document(request.state.db, principal.user_id, document.id)
        document, queued = requeued or document, requeued is not None
    if queued:
        request.state.ingestor.wake()
    headers = {"Location": f"/documents/{document.id}"}
    return json_response(document_out(document), status=202 if queued else 200, headers=headers)


async def _refuse_now(upload: _Upload, settings: Settings) -> None:
    """What ingestion would refuse is refused here, not after a 202: a file whose type cannot
    be read (415), a URL that would not be fetched (422)."""
    if upload.content is not None:
        try:
            detect_format(upload.content, upload.content_type, upload.filename)
        except UnsupportedDocument as error:
            raise ApiError(415, "unsupported_media_type", str(error)) from error
    if upload.source_url is not None:
        try:
            await check_url(
                upload.source_url,
                allow_hosts=settings.fetch_allowed_hosts(),
                timeout_seconds=settings.fetch_timeout,
            )
        except FetchError as error:
            raise invalid("body", "url", str(error)) from error


def _from_json(body: DocumentCreate) -> _Upload:
    if (body.text is None) == (body.url is None):
        reason = "send exactly one of `text` or `url` (or upload a file as multipart/form-data)"
        raise invalid("body", "text", reason)
    if body.text is not None:
        if not body.text.strip():
            raise invalid("body", "text", "must not be empty")
        content = body.text.encode()
        first_line = body.text.strip().splitlines()[0].lstrip("#").strip()[:80] or "untitled text"
        return _Upload(
            content=content,
            checksum=hashlib.sha256(content).digest(),
            title=body.title or first_line,
            content_type="text/plain; charset=utf-8",
            metadata=body.metadata,
        )
    assert body.url is not None
    url = _checked_url(body.url)
    return _Upload(
        content=None,
        # Until it is fetched, a URL document is identified by its address.
        checksum=hashlib.sha256(b"url:" + url.encode()).digest(),
        title=body.title,
        source_url=url,
        metadata=body.metadata,
    )


def _checked_url(url: str) -> str:
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise invalid("body", "url", f"not a valid URL ({error})") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("body", "url", "must be an absolute http:// or https:// URL")
    return url


async def _from_form(request: Request) -> _Upload:
    settings = request.state.settings
    async with request.form(
        max_files=1, max_fields=len(_FORM_FIELDS), max_part_size=settings.max_upload_bytes
    ) as form:
        unknown = sorted(set(form.keys()) - _FORM_FIELDS)
        if unknown:
            raise invalid("form", unknown[0], "unknown field (not part of this request)")
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise invalid("form", "file", "a file part named `file` is required")
        content = await file.read()
        filename = posixpath.basename((file.filename or "").replace("\\", "/"))[:255] or None
        content_type = (file.content_type or "application/octet-stream")[:200]
        title = _form_text(form.get("title"), "title")
        metadata = _form_metadata(form.get("metadata"))
    if not content:
        raise invalid("form", "file", "the file is empty")
    for field, value in (("file.filename", filename), ("file.content_type", content_type)):
        if value is not None and "\x00" in value:
            raise invalid("form", field, "contains a NUL character")
    return _Upload(
        content=content,
        checksum=hashlib.sha256(content).digest(),
        # Untitled: ingestion takes the title the content gives (else the file name).
        title=title or (None if filename else "untitled upload"),
        filename=filename,
        content_type=content_type,
        metadata=metadata,
    )


def _form_text(value: str | UploadFile | None, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("form", field, "must be a text field, not a file")
    if "\x00" in value:
        raise invalid("form", field, "contains a NUL character")
    try:
        return msgspec.convert(value, Title)
    except msgspec.ValidationError as error:
        raise invalid("form", field, str(error)) from error


def _form_metadata(value: str | UploadFile | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("form", "metadata", "must be a text field holding a JSON object")
    try:
        metadata = msgspec.json.decode(value, type=dict[str, Any])
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as error:
        raise invalid("form", "metadata", f"must be a JSON object ({error})") from error
    reject_nul({"metadata": metadata}, "form")
    return metadata


async def list_documents(request: Request) -> Response:
    principal = await require_user(request)
    query = decode_query(request.query_params, DocumentsQuery)
    with named_cursor("cursor"):
        page = await store.list_documents(
            request.state.db,
            principal.user_id,
            shared=query.scope == "shared",
            limit=page_size(query.limit, request.state.settings),
            cursor=query.cursor or None,
        )
    documents = [document_out(document) for document in page.documents]
    return json_response(DocumentList(documents=documents, next_cursor=page.next_cursor))


async def get_document(request: Request) -> Response:
    principal = await require_user(request)
    document_id = path_uuid(request, "document_id")
    document = await store.get_document(request.state.db, principal.user_id, document_id)
    return json_response(document_out(document))


async def delete_document(request: Request) -> Response:
    principal = await require_user(request)
    document_id = path_uuid(request, "document_id")
    await store.delete_document(
        request.state.db, principal.user_id, document_id, request_id=request.state.request_id
    )
    vectors: VectorStore = request.state.vectors
    try:
        # By payload: every point ingestion wrote for it, recorded in point_ids or not.
        await vectors.delete_document(document_id)
    except Exception:
        # The rows are gone, so no search result can be cited or resolved to them; the
        # points are removed on the next delete or re-ingestion of the same id.
        log.exception("could not delete the points of document %s", document_id)
    return Response(status_code=204)
