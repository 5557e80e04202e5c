-- name: AppendChatTurn :many
-- Appends a user message and its pending assistant reply (two sequence numbers) in one statement, naming an untitled session after it; returns both, user message first, or nothing when the session is not the user's or client_message_id was already used.
WITH session AS (
    -- The lock queues concurrent appends to one session; each then reads the last_seq
    -- the one before it committed.
    SELECT chat_sessions.id, chat_sessions.user_id, chat_sessions.last_seq
    FROM chat_sessions
    WHERE chat_sessions.id = @session_id
      AND chat_sessions.user_id = @user_id
    FOR UPDATE
), user_message AS (
    INSERT INTO chat_messages (session_id, user_id, seq, role, content, metadata, client_message_id)
    SELECT session.id, session.user_id, session.last_seq + 1, 'user', @content::text,
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
), bumped AS (
    UPDATE chat_sessions
    SET last_seq = assistant_message.seq,
        last_activity_at = now(),
        -- An untitled session is named after its first message (whitespace collapsed).
        title = coalesce(
            chat_sessions.title, left(btrim(regexp_replace(@content::text, '\s+', ' ', 'g')), 80)
        )
    FROM assistant_message
    WHERE chat_sessions.id = assistant_message.session_id
)
SELECT * FROM user_message
UNION ALL
SELECT * FROM assistant_message
ORDER BY seq;

-- name: CompleteAssistantMessage :one
-- Completes a pending assistant message with the generated answer and stores its citations, in one statement: sources holds the citations (rank, document_id, chunk_id, point_id, score, document_title, document_url, snippet), and each becomes a message_citations row.
-- A citation whose document or chunk is gone by now (deleted meanwhile, or a stray vector point) keeps its other fields with a NULL link, as a later deletion would leave it.
WITH completed AS (
    UPDATE chat_messages
    SET status = 'complete',
        content = @content,
        sources = @sources,
        confidence = sqlc.narg(confidence),
        token_count = sqlc.narg(token_count),
        metadata = chat_messages.metadata || coalesce(sqlc.narg(metadata)::jsonb, '{}')
    WHERE chat_messages.id = @message_id
      AND chat_messages.user_id = @user_id
      AND chat_messages.status = 'pending'
    RETURNING *
), cited AS (
    INSERT INTO message_citations (
        message_id, user_id, rank, document_id, chunk_id, point_id, score,
        document_title, document_url, snippet
    )
    SELECT completed.id, completed.user_id, citation.rank, document.id, chunk.id,
           citation.point_id, citation.score, citation.document_title,
           citation.document_url, citation.snippet
    FROM completed
    CROSS JOIN jsonb_to_recordset(completed.sources) AS citation (
        rank smallint, document_id uuid, chunk_id uuid, point_id uuid,
        score double precision, document_title text, document_url text, snippet text
    )
    LEFT JOIN documents AS document ON document.id = citation.document_id
    LEFT JOIN document_chunks AS chunk ON chunk.id = citation.chunk_id
)
SELECT * FROM completed;

-- name: FailAssistantMessage :one
-- Marks a pending assistant message as failed, keeping the error visible in the session; a retryable failure (the database, the index or the model was unavailable, the request died) is answered again by a retry of the turn.
UPDATE chat_messages
SET status = 'failed',
    error = @error::text,
    metadata = chat_messages.metadata || jsonb_build_object('retryable', @retryable::boolean)
WHERE id = @message_id
  AND user_id = @user_id
  AND status = 'pending'
RETURNING *;

-- name: RestartAssistantMessage :one
-- Takes an assistant message over to answer it again in place: one still pending whose answering request has been silent for longer than the lease (it died), or one whose failure was retryable. Returns nothing otherwise (another request is answering it, or it failed for good). The update renews the lease (updated_at).
UPDATE chat_messages
SET status = 'pending',
    error = NULL,
    metadata = chat_messages.metadata - 'retryable'
WHERE id = @message_id
  AND user_id = @user_id
  AND role = 'assistant'
  AND (
      (status = 'pending'
       AND updated_at < now() - make_interval(secs => @lease_seconds::double precision))
      OR (status = 'failed' AND chat_messages.metadata @> '{"retryable": true}')
  )
RETURNING *;

-- name: FailAbandonedAssistantMessagesForWorker :execrows
-- Marks failed (retryable) the pending answers whose answering request has been silent for longer than the lease: it died with its process, its connection or its client. A retry of the turn answers it again.
UPDATE chat_messages
SET status = 'failed',
    error = @error::text,
    metadata = chat_messages.metadata || '{"retryable": true}'
WHERE status = 'pending'
  AND updated_at < now() - make_interval(secs => @lease_seconds::double precision);

-- name: GetMessage :one
-- Returns one of a user's messages.
SELECT * FROM chat_messages
WHERE id = @message_id
  AND user_id = @user_id;

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

-- name: GetSessionOfClientMessage :one
-- The session of the user's latest message with this client message id: where a conversation a client resends whole (the OpenAI-compatible API) goes on.
SELECT session_id FROM chat_messages
WHERE user_id = @user_id
  AND client_message_id = @client_message_id
ORDER BY created_at DESC
LIMIT 1;

-- name: ListLastMessages :many
-- Lists the last messages of a session, newest first (reverse for display), and records the read at most once a minute, in one statement; pass before_seq to page back.
WITH touched AS (
    UPDATE chat_sessions
    SET last_accessed_at = now()
    WHERE chat_sessions.id = @session_id
      AND chat_sessions.user_id = @user_id
      AND chat_sessions.last_accessed_at < now() - interval '60 seconds'
)
SELECT * FROM chat_messages
WHERE chat_messages.session_id = @session_id
  AND chat_messages.user_id = @user_id
  AND chat_messages.seq < coalesce(sqlc.narg(before_seq)::bigint, 9223372036854775807)
ORDER BY chat_messages.seq DESC
LIMIT sqlc.arg('limit');

-- name: ListRecentMessages :many
-- Lists the last messages of a session, newest first, without recording a read: the context an answer is generated with.
SELECT * FROM chat_messages
WHERE chat_messages.session_id = @session_id
  AND chat_messages.user_id = @user_id
ORDER BY chat_messages.seq DESC
LIMIT sqlc.arg('limit');

-- name: CopyMessages :copyfrom
-- Bulk-imports complete messages with their sequence numbers (1, 2, ... per session).
INSERT INTO chat_messages (session_id, user_id, seq, role, content, created_at)
VALUES ($1, $2, $3, $4, $5, $6);
