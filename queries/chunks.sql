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

-- name: ListChunkPointIds :many
-- Lists the Qdrant point ids of one of the user's own documents (to delete its vectors).
SELECT point_id FROM document_chunks
WHERE document_id = @document_id
  AND owner_id = @user_id::uuid
ORDER BY chunk_index;

-- name: ListChunksByPointIds :many
-- Resolves Qdrant search hits to the chunks and documents the user may read.
SELECT c.id, c.document_id, c.chunk_index, c.point_id, c.content, c.char_start, c.char_end,
       d.title, d.source_url, d.filename
FROM document_chunks AS c
JOIN documents AS d ON d.id = c.document_id
WHERE c.point_id = ANY(@point_ids::uuid[])
  AND (c.owner_id = @user_id::uuid OR c.owner_id IS NULL);

-- name: ListChunkPointIdsForWorker :many
-- Lists the Qdrant point ids of any document (cleanup before re-ingestion).
SELECT point_id FROM document_chunks
WHERE document_id = @document_id
ORDER BY chunk_index;

-- name: DeleteDocumentChunksForWorker :execrows
-- Deletes the chunks of a document before it is ingested again.
DELETE FROM document_chunks
WHERE document_id = @document_id;
