-- name: CreateSession :one
-- Starts a session for a user.
INSERT INTO chat_sessions (user_id, title, metadata)
VALUES (@user_id, sqlc.narg(title), coalesce(sqlc.narg(metadata)::jsonb, '{}'))
RETURNING *;

-- name: EnsureSession :exec
-- Starts a session with a caller-chosen id unless it exists: a retried first chat turn finds the session its first attempt made.
INSERT INTO chat_sessions (id, user_id)
VALUES (@session_id, @user_id)
ON CONFLICT (id) DO NOTHING;

-- name: EnsureKeyedSession :one
-- The user's session named by this client key, started with the key when there is none (no row only when a concurrent request started it a moment ago: ask again).
WITH created AS (
    INSERT INTO chat_sessions (user_id, client_key)
    VALUES (@user_id, @client_key)
    ON CONFLICT (user_id, client_key) WHERE client_key IS NOT NULL DO NOTHING
    RETURNING *
)
SELECT * FROM created
UNION ALL
SELECT * FROM chat_sessions
WHERE user_id = @user_id
  AND client_key = @client_key
LIMIT 1;

-- name: GetKeyedSession :one
-- Returns the user's session named by this client key, if the key has started one.
SELECT * FROM chat_sessions
WHERE user_id = @user_id
  AND client_key = @client_key;

-- name: GetSession :one
-- Returns one of a user's sessions.
SELECT * FROM chat_sessions
WHERE id = @session_id
  AND user_id = @user_id;

-- name: ListSessions :many
-- Lists a user's sessions by last activity, newest first; pass the last row's (last_activity_at, id) as the cursor for the next page.
SELECT * FROM chat_sessions
WHERE user_id = @user_id
  AND (last_activity_at, id) < (
      coalesce(sqlc.narg(before_activity)::timestamptz, 'infinity'),
      coalesce(sqlc.narg(before_id)::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')
  )
ORDER BY last_activity_at DESC, id DESC
LIMIT sqlc.arg('limit');

-- name: UpdateSession :one
-- Renames a session and/or replaces its metadata (NULL keeps the current value).
UPDATE chat_sessions
SET title = coalesce(sqlc.narg(title), title),
    metadata = coalesce(sqlc.narg(metadata)::jsonb, metadata)
WHERE id = @session_id
  AND user_id = @user_id
RETURNING *;

-- name: DeleteSession :execrows
-- Deletes a session with its messages and citations.
DELETE FROM chat_sessions
WHERE id = @session_id
  AND user_id = @user_id;

-- name: CopySessions :copyfrom
-- Bulk-imports sessions; last_seq must be the highest seq of the messages imported with them.
INSERT INTO chat_sessions (id, user_id, title, created_at, last_activity_at, last_seq)
VALUES ($1, $2, $3, $4, $5, $6);
