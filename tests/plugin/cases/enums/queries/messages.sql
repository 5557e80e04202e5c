-- name: GetMessage :one
SELECT * FROM messages WHERE id = $1;

-- name: GetMessageRole :one
SELECT role FROM messages WHERE id = $1;

-- name: ListPreviousRoles :many
SELECT previous_role FROM messages ORDER BY id;

-- name: ListMessagesByRole :many
SELECT id, state FROM messages WHERE role = $1 AND state = ANY(@states::job_state[]);

-- name: SetMessageRole :exec
UPDATE messages SET role = @role, previous_role = sqlc.narg(previous_role) WHERE id = @id;

-- name: GetAccount :one
SELECT * FROM billing.accounts WHERE id = $1;

-- name: ListAccountsOnPlan :many
SELECT id FROM billing.accounts WHERE plan = @plan::billing.plan;
