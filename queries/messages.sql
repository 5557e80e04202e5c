-- name: AppendMessage :one
-- Appends a message with the session's next sequence number and bumps its activity; returns nothing when the session is not the user's or client_message_id was already used (roll back, then read it with GetMessageByClientId).
WITH session AS (
    UPDATE chat_sessions
    SET last_seq = last_seq + 1,
        last_activity_at = now()
    WHERE chat_sessions.id = @session_id
      AND chat_sessions.user_id = @user_id
      AND NOT EXISTS (
          SELECT 1 FROM chat_messages
          WHERE chat_messages.session_id = @session_id
            AND chat_messages.client_message_id = sqlc.narg(client_message_id)
      )
    RETURNING chat_sessions.id, chat_sessions.user_id, chat_sessions.last_seq
)
INSERT INTO chat_messages (
    session_id, user_id, seq, role, status, content, sources, confidence, token_count,
    metadata, client_message_id, reply_to_id
)
SELECT session.id, session.user_id, session.last_seq, @role::text, @status::text, @content::text,
       @sources::jsonb, sqlc.narg(confidence)::double precision, sqlc.narg(token_count)::integer,
       @metadata::jsonb, sqlc.narg(client_message_id)::text, sqlc.narg(reply_to_id)::uuid
FROM session
ON CONFLICT (session_id, client_message_id) DO NOTHING
RETURNING *;

-- name: AppendChatTurn :many
-- Appends a user message and its pending assistant reply (two sequence numbers) in one statement, naming an untitled session after it; returns both, user message first, or nothing when the session is not the user's or client_message_id was already used.
WITH session AS (
    UPDATE chat_sessions
    SET last_seq = last_seq + 2,
        last_activity_at = now(),
        -- An untitled session is named after its first message (whitespace collapsed).
        title = coalesce(
            chat_sessions.title, left(btrim(regexp_replace(@content::text, '\s+', ' ', 'g')), 80)
        )
    WHERE chat_sessions.id = @session_id
      AND chat_sessions.user_id = @user_id
      AND NOT EXISTS (
          SELECT 1 FROM chat_messages
          WHERE chat_messages.session_id = @session_id
            AND chat_messages.client_message_id = sqlc.narg(client_message_id)
      )
    RETURNING chat_sessions.id, chat_sessions.user_id, chat_sessions.last_seq
), user_message AS (
    INSERT INTO chat_messages (session_id, user_id, seq, role, content, metadata, client_message_id)
    SELECT session.id, session.user_id, session.last_seq - 1, 'user', @content::text,
           @metadata::jsonb, sqlc.narg(client_message_id)::text
    FROM session
    ON CONFLICT (session_id, client_message_id) DO NOTHING
    RETURNING *
), assistant_message AS (
    INSERT INTO chat_messages (session_id, user_id, seq, role, status, content, reply_to_id)
    SELECT user_message.session_id, user_message.user_id, user_message.seq + 1, 'assistant',
           'pending', '', user_message.id
    FROM user_message
    RETURNING *
)
SELECT * FROM user_message
UNION ALL
SELECT * FROM assistant_message
ORDER BY seq;

-- name: CompleteAssistantMessage :one
-- Completes a pending assistant message with the generated answer.
UPDATE chat_messages
SET status = 'complete',
    content = @content,
    sources = @sources,
    confidence = sqlc.narg(confidence),
    token_count = sqlc.narg(token_count),
    metadata = metadata || coalesce(sqlc.narg(metadata)::jsonb, '{}')
WHERE id = @message_id
  AND user_id = @user_id
  AND status = 'pending'
RETURNING *;

-- name: FailAssistantMessage :one
-- Marks a pending assistant message as failed, keeping the error visible in the session.
UPDATE chat_messages
SET status = 'failed',
    error = @error::text
WHERE id = @message_id
  AND user_id = @user_id
  AND status = 'pending'
RETURNING *;

-- name: GetMessage :one
-- Returns one of a user's messages.
SELECT * FROM chat_messages
WHERE id = @message_id
  AND user_id = @user_id;

-- name: GetMessageByClientId :one
-- Returns the message a client created with this idempotency key.
SELECT * FROM chat_messages
WHERE session_id = @session_id
  AND user_id = @user_id
  AND client_message_id = @client_message_id::text;

-- name: GetMessagesByClientId :many
-- Returns the user message created with this idempotency key and the assistant reply to it, in order (replays a retried turn).
SELECT reply.* FROM chat_messages AS original
JOIN chat_messages AS reply
  ON reply.id = original.id OR reply.reply_to_id = original.id
WHERE original.session_id = @session_id
  AND original.user_id = @user_id
  AND original.client_message_id = @client_message_id::text
  AND reply.user_id = @user_id
ORDER BY reply.seq;

-- name: ListLastMessages :many
-- Lists the last messages of a session, newest first (reverse for display); pass before_seq to page back.
SELECT * FROM chat_messages
WHERE session_id = @session_id
  AND user_id = @user_id
  AND seq < coalesce(sqlc.narg(before_seq)::bigint, 9223372036854775807)
ORDER BY seq DESC
LIMIT sqlc.arg('limit');

-- name: ListMessagesAfter :many
-- Lists the messages of a session after a sequence number, oldest first.
SELECT * FROM chat_messages
WHERE session_id = @session_id
  AND user_id = @user_id
  AND seq > @after_seq
ORDER BY seq
LIMIT sqlc.arg('limit');

-- name: CountSessionMessages :one
-- Counts the messages of one of a user's sessions.
SELECT count(*) FROM chat_messages
WHERE session_id = @session_id
  AND user_id = @user_id;
