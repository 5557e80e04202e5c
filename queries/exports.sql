-- name: ListSessionsForExport :many
-- A page of the user's sessions in id order (creation order: ids are UUIDv7), after after_id: an order no concurrent chat turn can change, so a streamed export misses and repeats none.
SELECT * FROM chat_sessions
WHERE user_id = @user_id
  AND id > @after_id
ORDER BY id
LIMIT sqlc.arg('limit');

-- name: ListSessionMessagesForExport :many
-- A page of one of the user's sessions' messages, oldest first, after the sequence number after_seq.
SELECT * FROM chat_messages
WHERE session_id = @session_id
  AND user_id = @user_id
  AND seq > @after_seq
ORDER BY seq
LIMIT sqlc.arg('limit');

-- name: ListUserIdentitiesForExport :many
-- The external identities (issuer, subject, and what the issuer said of the user) that name the user.
SELECT issuer, subject, email, name, created_at, updated_at
FROM user_identities
WHERE user_id = @user_id
ORDER BY issuer, subject;
