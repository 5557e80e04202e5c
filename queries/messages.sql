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

-- name: RegenerateAnswer :many
-- Appends a new pending answer to the question that an answer replied to (the session's next sequence number) and marks that answer superseded, in one statement; returns the question and the new answer, question first, or nothing when the answer is not the user's current settled answer to a question, or client_message_id was already used in its session.
WITH answer AS (
    -- The lock makes concurrent regenerations of one answer take turns, and each checks
    -- the conditions again on the row as the one before it left it: only the first finds
    -- the answer still current. NO KEY: rows that reference the answer (citations,
    -- feedback) need not wait for it.
    SELECT chat_messages.id, chat_messages.session_id, chat_messages.user_id,
           chat_messages.reply_to_id
    FROM chat_messages
    WHERE chat_messages.id = @message_id
      AND chat_messages.user_id = @user_id
      AND chat_messages.role = 'assistant'
      AND chat_messages.status <> 'pending'
      AND chat_messages.superseded_at IS NULL
      AND chat_messages.reply_to_id IS NOT NULL
    FOR NO KEY UPDATE
), session AS (
    -- The lock queues this append behind the session's others, as AppendChatTurn's does.
    SELECT chat_sessions.id, chat_sessions.user_id, chat_sessions.last_seq
    FROM chat_sessions
    JOIN answer
      ON answer.session_id = chat_sessions.id AND answer.user_id = chat_sessions.user_id
    WHERE chat_sessions.user_id = @user_id
    FOR UPDATE OF chat_sessions
), regenerated AS (
    INSERT INTO chat_messages (
        session_id, user_id, seq, role, status, content, reply_to_id, client_message_id
    )
    SELECT session.id, session.user_id, session.last_seq + 1, 'assistant', 'pending', '',
           answer.reply_to_id, sqlc.narg(client_message_id)::text
    FROM session, answer
    ON CONFLICT (session_id, client_message_id) DO NOTHING
    RETURNING *
), superseded AS (
    -- Only once the new answer is stored: a used client_message_id changes nothing.
    UPDATE chat_messages
    SET superseded_at = now()
    FROM regenerated
    WHERE chat_messages.id = @message_id
      AND chat_messages.user_id = @user_id
), bumped AS (
    UPDATE chat_sessions
    SET last_seq = regenerated.seq,
        last_activity_at = now()
    FROM regenerated
    WHERE chat_sessions.id = regenerated.session_id
)
SELECT question.* FROM chat_messages AS question
JOIN regenerated
  ON question.id = regenerated.reply_to_id AND question.user_id = regenerated.user_id
WHERE question.user_id = @user_id
UNION ALL
SELECT * FROM regenerated
ORDER BY seq;

-- name: GetRegeneratedAnswerByClientId :many
-- Returns the message of a session stored with this idempotency key and the question it replies to, question first: a regenerated answer and its question, or a user message alone (replays a retried regeneration, or shows that the key was used otherwise).
SELECT message.* FROM chat_messages AS keyed
JOIN chat_messages AS message
  ON message.id = keyed.id OR message.id = keyed.reply_to_id
WHERE keyed.session_id = @session_id
  AND keyed.user_id = @user_id
  AND keyed.client_message_id = @client_message_id::text
  AND message.user_id = @user_id
ORDER BY message.seq;

-- name: GetCurrentAnswer :one
-- Returns the answer to a question that no regenerated answer has replaced.
SELECT * FROM chat_messages
WHERE reply_to_id = @question_id
  AND user_id = @user_id
  AND superseded_at IS NULL
ORDER BY seq DESC
LIMIT 1;

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
-- Takes an assistant message over to answer it again in place: one still pending whose answering request has been silent for longer than the lease (it died), or one whose failure was retryable and that no regenerated answer has replaced. Returns nothing otherwise (another request is answering it, it failed for good, or it was superseded). The update renews the lease (updated_at).
UPDATE chat_messages
SET status = 'pending',
    error = NULL,
    metadata = chat_messages.metadata - 'retryable'
WHERE id = @message_id
  AND user_id = @user_id
  AND role = 'assistant'
  AND superseded_at IS NULL
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
-- Returns the user message created with this idempotency key and its current assistant reply (the newest, once regenerated), in order (replays a retried turn).
SELECT reply.* FROM chat_messages AS original
JOIN chat_messages AS reply
  ON reply.id = original.id OR reply.reply_to_id = original.id
WHERE original.session_id = @session_id
  AND original.user_id = @user_id
  AND original.client_message_id = @client_message_id::text
  AND reply.user_id = @user_id
  AND reply.superseded_at IS NULL
ORDER BY reply.seq;

-- name: GetSessionOfClientMessage :one
-- The session of the user's latest message with this client message id: where a conversation a client resends whole (the OpenAI-compatible API) goes on.
SELECT session_id FROM chat_messages
WHERE user_id = @user_id
  AND client_message_id = @client_message_id
ORDER BY created_at DESC
LIMIT 1;

-- name: ListLastMessages :many
-- Lists the last messages of a session, newest first (reverse for display), each with the user's rating of it, and records the read at most once a minute, in one statement; pass before_seq to page back. Answers replaced by a regenerated one are left out unless all_answers.
WITH touched AS (
    UPDATE chat_sessions
    SET last_accessed_at = now()
    WHERE chat_sessions.id = @session_id
      AND chat_sessions.user_id = @user_id
      AND chat_sessions.last_accessed_at < now() - interval '60 seconds'
)
SELECT sqlc.embed(chat_messages), message_feedback.rating
FROM chat_messages
LEFT JOIN message_feedback
    ON message_feedback.user_id = chat_messages.user_id
   AND message_feedback.message_id = chat_messages.id
WHERE chat_messages.session_id = @session_id
  AND chat_messages.user_id = @user_id
  AND chat_messages.seq < coalesce(sqlc.narg(before_seq)::bigint, 9223372036854775807)
  -- A filter on the rows the index scan reads: superseded answers are rare.
  AND (chat_messages.superseded_at IS NULL OR @all_answers::boolean)
ORDER BY chat_messages.seq DESC
LIMIT sqlc.arg('limit');

-- name: ListRecentMessages :many
-- Lists the last messages of a session, newest first, without recording a read: the context an answer is generated with (answers replaced by a regenerated one left out).
SELECT * FROM chat_messages
WHERE chat_messages.session_id = @session_id
  AND chat_messages.user_id = @user_id
  AND chat_messages.superseded_at IS NULL
ORDER BY chat_messages.seq DESC
LIMIT sqlc.arg('limit');

-- name: CopyMessages :copyfrom
-- Bulk-imports complete messages with their sequence numbers (1, 2, ... per session).
INSERT INTO chat_messages (session_id, user_id, seq, role, content, created_at)
VALUES ($1, $2, $3, $4, $5, $6);
