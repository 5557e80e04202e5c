-- name: CreateAuditEntry :exec
-- Appends an entry to the audit log.
INSERT INTO audit_log (actor_user_id, action, target_type, target_id, request_id, details)
VALUES (
    sqlc.narg(actor_user_id), @action, sqlc.narg(target_type), sqlc.narg(target_id),
    sqlc.narg(request_id), coalesce(sqlc.narg(details)::jsonb, '{}')
);

-- name: ListAuditEntries :many
-- Lists audit entries after an id, oldest first, optionally of one action.
SELECT * FROM audit_log
WHERE id > @after_id
  AND (sqlc.narg(action)::text IS NULL OR action = sqlc.narg(action))
ORDER BY id
LIMIT sqlc.arg('limit');
