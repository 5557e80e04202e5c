-- name: CountInactiveSessionsRetention :one
-- Dry run of retention: how many sessions were inactive since before the cutoff, and how many messages they hold.
SELECT count(*) AS sessions,
       coalesce(sum((SELECT count(*) FROM chat_messages AS m WHERE m.session_id = s.id)), 0)::bigint AS messages
FROM chat_sessions AS s
WHERE s.last_activity_at < @cutoff;

-- name: ListInactiveSessionsRetention :many
-- Dry run of retention: a page of the sessions inactive since before the cutoff, oldest activity first, after the position (last_activity_at, id).
SELECT s.id, s.user_id, s.last_activity_at,
       (SELECT count(*) FROM chat_messages AS m WHERE m.session_id = s.id) AS message_count
FROM chat_sessions AS s
WHERE s.last_activity_at < @cutoff
  AND (s.last_activity_at, s.id) > (@after_activity::timestamptz, @after_id::uuid)
ORDER BY s.last_activity_at, s.id
LIMIT sqlc.arg('limit');

-- name: PurgeInactiveSessionsRetention :one
-- Deletes up to limit sessions inactive since before the cutoff (cascading to messages and citations); returns how many sessions and messages went. Call until it deletes fewer than limit.
WITH doomed AS (
    SELECT expired.id FROM chat_sessions AS expired
    WHERE expired.last_activity_at < @cutoff
    ORDER BY expired.last_activity_at
    LIMIT sqlc.arg('limit')
    FOR UPDATE SKIP LOCKED
), deleted AS (
    DELETE FROM chat_sessions
    WHERE id IN (SELECT doomed.id FROM doomed)
    RETURNING id
)
SELECT (SELECT count(*) FROM deleted) AS sessions,
       (SELECT count(*) FROM chat_messages AS m WHERE m.session_id IN (SELECT doomed.id FROM doomed))::bigint AS messages;

-- name: CountExpiredCredentialsRetention :one
-- Dry run of retention: how many credentials expired before the cutoff.
SELECT count(*) FROM user_credentials
WHERE expires_at < @cutoff;

-- name: PurgeExpiredCredentialsBatchRetention :execrows
-- Deletes up to limit credentials that expired before the cutoff; call until it deletes fewer than limit.
DELETE FROM user_credentials
WHERE id = ANY(ARRAY(
    SELECT expired.id FROM user_credentials AS expired
    WHERE expired.expires_at < @cutoff
    ORDER BY expired.expires_at
    LIMIT sqlc.arg('limit')
    FOR UPDATE SKIP LOCKED
));

-- name: CountCompletedDocumentContentsRetention :one
-- Dry run of retention: the stored contents of documents whose ingestion completed, and their bytes.
SELECT count(*) AS documents,
       coalesce(sum(octet_length(s.content)), 0)::bigint AS bytes
FROM document_sources AS s
JOIN documents AS d ON d.id = s.document_id
WHERE d.status = 'completed';

-- name: PurgeCompletedDocumentContentsRetention :one
-- Deletes up to limit stored contents of documents whose ingestion completed (their chunks stay searchable; reindex then needs the source again); returns how many and their bytes.
WITH deleted AS (
    DELETE FROM document_sources
    WHERE document_id = ANY(ARRAY(
        SELECT s.document_id FROM document_sources AS s
        JOIN documents AS d ON d.id = s.document_id
        WHERE d.status = 'completed'
        ORDER BY s.document_id
        LIMIT sqlc.arg('limit')
        FOR UPDATE OF s SKIP LOCKED
    ))
    RETURNING octet_length(content) AS bytes
)
SELECT count(*) AS documents, coalesce(sum(deleted.bytes), 0)::bigint AS bytes
FROM deleted;
