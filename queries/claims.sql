-- name: LockClaimableUser :one
-- Locks the user a claim would empty (a concurrent claim of the same user waits here, then finds it gone) and says whether it may be claimed: anonymous, with no external identity.
SELECT users.id,
       users.is_anonymous,
       EXISTS (
           SELECT 1 FROM user_identities
           WHERE user_identities.user_id = users.id
       ) AS has_identity
FROM users
WHERE users.id = @user_id
FOR UPDATE;

-- name: LockClaimingUser :one
-- Serializes the claims into one signed-in user (the session keys of what they receive must stay unique), without blocking that user's own writes.
SELECT id FROM users
WHERE id = @user_id
FOR NO KEY UPDATE;

-- name: GetClaimCredential :one
-- The anonymous credential a claim presents, if it is still valid: asked again under the lock of its user.
SELECT id FROM user_credentials
WHERE id = @credential_id
  AND user_id = @user_id
  AND revoked_at IS NULL
  AND expires_at > now();

-- name: MoveChatHistory :one
-- Moves every session of one user (user_id) to another (to_user_id), with their messages, citations and ratings, in one statement: the composite foreign keys (a message's user is its session's, a citation's and a rating's their message's) are checked at its end, once all have moved. A moved session loses a session key the receiving user already uses.
WITH moved_sessions AS (
    UPDATE chat_sessions AS moving
    SET user_id = @to_user_id::uuid,
        client_key = CASE
            WHEN EXISTS (
                SELECT 1 FROM chat_sessions AS kept
                WHERE kept.user_id = @to_user_id::uuid
                  AND kept.client_key = moving.client_key
            ) THEN NULL
            ELSE moving.client_key
        END
    WHERE moving.user_id = @user_id::uuid
    RETURNING moving.id
), moved_messages AS (
    UPDATE chat_messages
    SET user_id = @to_user_id::uuid
    WHERE chat_messages.user_id = @user_id::uuid
      AND chat_messages.session_id IN (SELECT moved_sessions.id FROM moved_sessions)
    RETURNING chat_messages.id
), moved_citations AS (
    UPDATE message_citations
    SET user_id = @to_user_id::uuid
    WHERE message_citations.user_id = @user_id::uuid
      AND message_citations.message_id IN (SELECT moved_messages.id FROM moved_messages)
    RETURNING message_citations.message_id
), moved_ratings AS (
    UPDATE message_feedback
    SET user_id = @to_user_id::uuid
    WHERE message_feedback.user_id = @user_id::uuid
    RETURNING message_feedback.message_id
)
SELECT (SELECT count(*) FROM moved_sessions) AS session_count,
       (SELECT count(*) FROM moved_messages) AS message_count,
       (SELECT count(*) FROM moved_citations) AS citation_count,
       (SELECT count(*) FROM moved_ratings) AS rating_count;

-- name: QueueDocumentOwnerSyncs :execrows
-- Queues a sync of the vector points of every document the user owns (before they move or go). A job already queued is queued afresh, so that a worker holding it does not finish it with the owner it read before.
INSERT INTO document_owner_syncs (document_id)
SELECT documents.id FROM documents
WHERE documents.owner_id = @user_id::uuid
ON CONFLICT (document_id) DO UPDATE
SET created_at = now(),
    claimed_at = NULL,
    claimed_by = NULL;

-- name: MoveDocuments :many
-- Moves one user's (user_id) documents to another (to_user_id), except those the receiving user already holds with the same content (the same checksum): those stay, to go with the emptied user.
UPDATE documents AS moving
SET owner_id = @to_user_id::uuid
WHERE moving.owner_id = @user_id::uuid
  AND NOT EXISTS (
      SELECT 1 FROM documents AS kept
      WHERE kept.owner_id = @to_user_id::uuid
        AND kept.checksum = moving.checksum
  )
RETURNING moving.id;

-- name: MoveDocumentChunks :execrows
-- Moves the chunks of moved documents to their new owner (the owner is the document's: the trigger copies it).
UPDATE document_chunks
SET owner_id = @to_user_id::uuid
WHERE document_id = ANY(@document_ids::uuid[])
  AND owner_id = @user_id::uuid;

-- name: MoveDocumentSources :execrows
-- Moves the stored contents of moved documents to their new owner.
UPDATE document_sources
SET owner_id = @to_user_id::uuid
WHERE document_id = ANY(@document_ids::uuid[])
  AND owner_id = @user_id::uuid;

-- name: ClaimDocumentOwnerSyncForWorker :one
-- Takes the oldest vector point sync that no worker holds, or one whose worker has held it since before stale_before.
UPDATE document_owner_syncs
SET claimed_at = now(),
    claimed_by = @claimed_by::text,
    attempts = attempts + 1
WHERE document_id = (
    SELECT queued.document_id FROM document_owner_syncs AS queued
    WHERE queued.claimed_at IS NULL
       OR queued.claimed_at < @stale_before::timestamptz
    ORDER BY queued.created_at, queued.document_id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: FinishDocumentOwnerSyncForWorker :execrows
-- Deletes a sync this worker holds, once the points match the document; nothing when it was queued afresh meanwhile.
DELETE FROM document_owner_syncs
WHERE document_id = @document_id
  AND claimed_by = @claimed_by::text;

-- name: PostponeDocumentOwnerSyncForWorker :exec
-- Leaves a sync this worker holds for later (taken again after the retry delay), saying why.
UPDATE document_owner_syncs
SET last_error = @reason::text
WHERE document_id = @document_id
  AND claimed_by = @claimed_by::text;
