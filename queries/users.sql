-- name: CreateAnonymousUser :one
-- Creates an anonymous user (a real row, upgradable later).
INSERT INTO users (is_anonymous)
VALUES (true)
RETURNING *;

-- name: CreateUser :one
-- Creates a registered user.
INSERT INTO users (email, name)
VALUES (sqlc.narg(email), sqlc.narg(name))
RETURNING *;

-- name: GetUser :one
-- Returns the user with this id.
SELECT * FROM users
WHERE id = @user_id;

-- name: DeleteUser :execrows
-- Deletes a user and, by cascade, everything the user owns; the service processes that cache credentials (LISTEN credential_revoked) drop the user's, once the transaction commits.
WITH deleted AS (
    DELETE FROM users
    WHERE id = @user_id
    RETURNING id
)
SELECT pg_notify('credential_revoked', 'user:' || deleted.id::text) FROM deleted;

-- name: CopyUsers :copyfrom
-- Bulk-imports users (history migrated from another system, benchmark data sets).
INSERT INTO users (id, email, name, created_at)
VALUES ($1, $2, $3, $4);
