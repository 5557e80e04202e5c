"""Documents: an upload (file, text or URL) read into an Upload for ingestion; list, read, delete.

POST answers 202 with the pending record (200 with the existing record when the caller
already has identical content); ingestion moves it through processing to completed or
failed.
"""

from __future__ import annotations

import hashlib
import posixpath
import uuid
from typing import Any
from urllib.parse import urlsplit

import msgspec
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from .. import store
from ..json import json_response
from ..schemas import DocumentCreate, DocumentList, DocumentsQuery, Title, document_out
from ..usecases.accounts import Principal
from ..usecases.documents import Documents, Upload
from ..validation import invalid, named_cursor, reject_nul

__all__ = ["create_document", "delete_document", "get_document", "list_documents"]

_FORM_FIELDS = {"file", "title", "metadata"}


async def create_document(
    request: Request, *, user: Principal, body: DocumentCreate | None
) -> Response:
    upload = await _from_form(request) if body is None else _from_json(body)
    documents: Documents = request.state.documents
    document, queued = await documents.add(
        user.user_id, upload, request_id=request.state.request_id
    )
    headers = {"Location": f"/documents/{document.id}"}
    return json_response(document_out(document), status=202 if queued else 200, headers=headers)


def _from_json(body: DocumentCreate) -> Upload:
    if (body.text is None) == (body.url is None):
        reason = "send exactly one of `text` or `url` (or upload a file as multipart/form-data)"
        raise invalid("body", "text", reason)
    if body.text is not None:
        if not body.text.strip():
            raise invalid("body", "text", "must not be empty")
        content = body.text.encode()
        first_line = body.text.strip().splitlines()[0].lstrip("#").strip()[:80] or "untitled text"
        return Upload(
            content=content,
            checksum=hashlib.sha256(content).digest(),
            title=body.title or first_line,
            content_type="text/plain; charset=utf-8",
            metadata=body.metadata,
        )
    assert body.url is not None
    url = _checked_url(body.url)
    return Upload(
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
        _ = parts.port  # ValueError for a port that is not a number from 0 to 65535
    except ValueError as error:
        raise invalid("body", "url", f"not a valid URL ({error})") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("body", "url", "must be an absolute http:// or https:// URL")
    return url


async def _from_form(request: Request) -> Upload:
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
    return Upload(
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


async def list_documents(
    request: Request, *, user: Principal, query: DocumentsQuery, limit: int
) -> Response:
    with named_cursor("cursor"):
        page = await store.list_documents(
            request.state.db,
            user.user_id,
            shared=query.scope == "shared",
            limit=limit,
            cursor=query.cursor or None,
        )
    documents = [document_out(document) for document in page.documents]
    return json_response(DocumentList(documents=documents, next_cursor=page.next_cursor))


async def get_document(request: Request, *, user: Principal, document_id: uuid.UUID) -> Response:
    document = await store.get_document(request.state.db, user.user_id, document_id)
    return json_response(document_out(document))


async def delete_document(request: Request, *, user: Principal, document_id: uuid.UUID) -> Response:
    documents: Documents = request.state.documents
    await documents.delete(user.user_id, document_id, request_id=request.state.request_id)
    return Response(status_code=204)
