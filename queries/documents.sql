-- name: CreateDocument :one
-- Records a document to ingest, owned by user_id (NULL: the shared corpus); returns nothing when the owner already has this checksum (see GetDocumentByChecksum).
INSERT INTO documents (
    owner_id, title, source_url, filename, content_type, checksum, byte_size, metadata
)
VALUES (
    sqlc.narg(user_id), sqlc.narg(title), sqlc.narg(source_url), sqlc.narg(filename),
    sqlc.narg(content_type), @checksum, sqlc.narg(byte_size),
    coalesce(sqlc.narg(metadata)::jsonb, '{}')
)
ON CONFLICT (checksum, owner_id) DO NOTHING
RETURNING *;

-- name: GetDocumentByChecksum :one
-- Returns the document with this checksum owned by user_id (NULL: the shared corpus).
SELECT * FROM documents
WHERE checksum = @checksum
  AND owner_id IS NOT DISTINCT FROM sqlc.narg(user_id)::uuid;

-- name: GetDocument :one
-- Returns a document the user may read: their own or a shared one.
SELECT * FROM documents
WHERE id = @document_id
  AND (owner_id = @user_id::uuid OR owner_id IS NULL);

-- name: GetDocumentForWorker :one
-- Returns any document by id, for the ingestion worker and operator tools (not for users).
SELECT * FROM documents
WHERE id = @document_id;

-- name: ListDocuments :many
-- Lists the user's own documents, newest first; pass the last row's (created_at, id) as the cursor for the next page.
SELECT * FROM documents
WHERE owner_id = @user_id::uuid
  AND (created_at, id) < (
      coalesce(sqlc.narg(before_created)::timestamptz, 'infinity'),
      coalesce(sqlc.narg(before_id)::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')
  )
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg('limit');

-- name: ListSharedDocuments :many
-- Lists the shared corpus, newest first; pass the last row's (created_at, id) as the cursor for the next page.
SELECT * FROM documents
WHERE owner_id IS NULL
  AND (created_at, id) < (
      coalesce(sqlc.narg(before_created)::timestamptz, 'infinity'),
      coalesce(sqlc.narg(before_id)::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')
  )
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg('limit');

-- name: DeleteDocument :one
-- Deletes one of the user's own documents with its chunks (citations keep their snapshot); returns its chunk count, nothing when it is not the user's.
DELETE FROM documents
WHERE id = @document_id
  AND owner_id = @user_id::uuid
RETURNING chunk_count;

-- name: ClaimDocumentForWorker :one
-- Claims the oldest pending document, or one whose processing claim is older than stale_before, for ingestion by a worker.
UPDATE documents
SET status = 'processing',
    claimed_at = now(),
    claimed_by = @claimed_by::text,
    attempts = attempts + 1,
    error = NULL
WHERE id = (
    SELECT queued.id FROM documents AS queued
    WHERE (queued.status = 'pending'
           OR (queued.status = 'processing' AND queued.claimed_at < @stale_before::timestamptz))
      AND queued.attempts < @max_attempts
    ORDER BY queued.created_at, queued.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: FailAbandonedDocumentsForWorker :many
-- Fails the documents whose workers died on every allowed attempt, so they stop looking in progress.
UPDATE documents
SET status = 'failed',
    error = 'ingestion was interrupted on every attempt (' || attempts || '); giving up'
WHERE status = 'processing'
  AND claimed_at < @stale_before::timestamptz
  AND attempts >= @max_attempts
RETURNING *;

-- name: RequeueDocument :one
-- Queues one of the user's finished documents for ingestion again (a URL whose content may have changed).
UPDATE documents
SET status = 'pending',
    error = NULL,
    attempts = 0
WHERE id = @document_id
  AND owner_id IS NOT DISTINCT FROM sqlc.narg(user_id)::uuid
  AND status IN ('completed', 'failed')
RETURNING *;

-- name: MarkDocumentProcessingForWorker :one
-- Claims one specific pending document (ingestion right after upload); returns nothing when it is not pending.
UPDATE documents
SET status = 'processing',
    claimed_at = now(),
    claimed_by = @claimed_by::text,
    attempts = attempts + 1
WHERE id = @document_id
  AND status = 'pending'
RETURNING *;

-- name: MarkDocumentCompletedForWorker :one
-- Completes a document this worker has claimed; returns nothing when the claim was lost.
-- An untitled document takes the title found in its content.
UPDATE documents
SET status = 'completed',
    chunk_count = @chunk_count,
    embedding_model = @embedding_model::text,
    collection = @collection::text,
    title = coalesce(title, sqlc.narg(found_title)::text)
WHERE id = @document_id
  AND status = 'processing'
  AND claimed_by = @claimed_by::text
RETURNING *;

-- name: ListCompletedDocumentsForWorker :many
-- Pages through every completed document in id order (reindex).
SELECT * FROM documents
WHERE status = 'completed'
  AND id > @after_id
ORDER BY id
LIMIT @page_size;

-- name: CountStaleDocumentsForWorker :one
-- Counts the completed documents whose vectors were made another way or live elsewhere.
SELECT count(*) FROM documents
WHERE status = 'completed'
  AND (embedding_model IS DISTINCT FROM @embedding_model::text
       OR collection IS DISTINCT FROM @collection::text);

-- name: ReindexDocumentForWorker :one
-- Records a completed document's rebuilt vectors; returns nothing when it is no longer completed.
UPDATE documents
SET chunk_count = @chunk_count,
    embedding_model = @embedding_model::text,
    collection = @collection::text,
    title = coalesce(title, sqlc.narg(found_title)::text)
WHERE id = @document_id
  AND status = 'completed'
RETURNING *;

-- name: MarkDocumentFailedForWorker :one
-- Fails a document this worker has claimed, with the error, and with no chunks (their points are gone); returns nothing when the claim was lost.
UPDATE documents
SET status = 'failed',
    error = @error::text,
    chunk_count = 0
WHERE id = @document_id
  AND status = 'processing'
  AND claimed_by = @claimed_by::text
RETURNING *;

-- name: CreateDocumentSource :exec
-- Keeps the uploaded content of a document for the ingestion worker.
INSERT INTO document_sources (document_id, owner_id, content)
SELECT id, owner_id, @content::bytea
FROM documents
WHERE id = @document_id
  AND owner_id IS NOT DISTINCT FROM sqlc.narg(user_id)::uuid;

-- name: GetDocumentSourceForWorker :one
-- Returns the uploaded content of a document, for the worker that ingests it.
SELECT content FROM document_sources
WHERE document_id = @document_id;

-- name: ListDocumentStatusesForWorker :many
-- The status and error of the given documents (progress of queued ingestion).
SELECT id, status, error FROM documents
WHERE id = ANY(@document_ids::uuid[]);
