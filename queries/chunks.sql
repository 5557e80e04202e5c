-- name: CopyDocumentChunks :copyfrom
-- Bulk-loads the chunks of a document (owner_id is copied from the document by a trigger).
INSERT INTO document_chunks (
    document_id, chunk_index, point_id, content, char_start, char_end, token_count
)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: ListDocumentChunks :many
-- Lists the chunks of a document the user may read, in order.
SELECT * FROM document_chunks
WHERE document_id = @document_id
  AND (owner_id = @user_id::uuid OR owner_id IS NULL)
ORDER BY chunk_index;

-- name: ListChunksByPointIds :many
-- Resolves Qdrant search hits to the chunks the user may read (a hit without a row is stale).
SELECT id, point_id FROM document_chunks
WHERE point_id = ANY(@point_ids::uuid[])
  AND (owner_id = @user_id::uuid OR owner_id IS NULL);

-- name: DeleteDocumentChunksForWorker :execrows
-- Deletes the chunks of a document before it is ingested again.
DELETE FROM document_chunks
WHERE document_id = @document_id;
