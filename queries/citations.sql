-- name: CopyMessageCitations :copyfrom
-- Bulk-loads the citations of an assistant message.
INSERT INTO message_citations (
    message_id, user_id, rank, document_id, chunk_id, point_id, score,
    document_title, document_url, snippet
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: ListMessageCitations :many
-- Lists the citations of some of the user's messages by rank; source_deleted is true once the cited document is gone.
SELECT c.message_id, c.rank, c.document_id, c.chunk_id, c.point_id, c.score,
       c.document_title, c.document_url, c.snippet,
       (d.id IS NULL)::boolean AS source_deleted
FROM message_citations AS c
LEFT JOIN documents AS d ON d.id = c.document_id
WHERE c.message_id = ANY(@message_ids::uuid[])
  AND c.user_id = @user_id
ORDER BY c.message_id, c.rank;
