-- name: ListEvents :many
SELECT * FROM events ORDER BY id;

-- name: GetEvent :one
SELECT * FROM events WHERE id = $1;

-- name: CreateEvent :one
INSERT INTO events (kind, source, payload, severity, happened_at, note)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id;
