-- name: GetTicket :one
SELECT * FROM tickets WHERE id = @id;

-- name: CreateTicket :one
INSERT INTO tickets (title, status, priority, labels)
VALUES (@title, @status, sqlc.narg(priority), @labels)
RETURNING *;

-- name: ListTicketsByStatus :many
-- A parameter compared with (or assigned to) the column takes its type.
SELECT id, title, status FROM tickets WHERE status = @status ORDER BY id;

-- name: SetTicketStatus :execrows
UPDATE tickets SET status = @status WHERE id = @id;

-- name: ListTicketsByStatusText :many
-- A cast parameter has no column: it stays str.
SELECT id, status FROM tickets WHERE status = @status::text;

-- name: CountTicketsByStatus :many
SELECT status, count(*) AS tickets FROM tickets GROUP BY status;

-- name: ListCredentialKinds :many
SELECT kind FROM user_credentials WHERE kind = ANY(@kinds::text[]);
