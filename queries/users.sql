-- name: CreateAnonymousUser :one
-- Creates an anonymous user (a real row, upgradable later).
INSERT INTO users (is_anonymous)
VALUES (true)
RETURNING *;

-- name: EnsureAnonymousUser :one
-- Creates the anonymous user with this id unless it exists (the user a legacy session key stands for, its id derived from the key); no row when it existed.
INSERT INTO users (id, is_anonymous)
VALUES (@user_id, true)
ON CONFLICT (id) DO NOTHING
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

-- name: GetUserIdentity :one
-- The external identity (issuer and subject), with the user it names and what its issuer last said of it.
SELECT * FROM user_identities
WHERE issuer = @issuer
  AND subject = @subject;

-- name: CreateUserIdentity :one
-- Records that an external identity names this (new) user; no row when a concurrent request recorded it first.
INSERT INTO user_identities (issuer, subject, user_id, email, name)
VALUES (@issuer, @subject, @user_id, sqlc.narg(email), sqlc.narg(name))
ON CONFLICT (issuer, subject) DO NOTHING
RETURNING *;

-- name: UpdateUserIdentity :exec
-- Keeps what the issuer says of an identity (email, name) current.
UPDATE user_identities
SET email = sqlc.narg(email),
    name = sqlc.narg(name)
WHERE issuer = @issuer
  AND subject = @subject;
